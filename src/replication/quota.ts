// A replication throttle (Kafka's follower.replication.throttled.rate /
// leader.replication.throttled.rate): bytes per second shared by every throttled replica of the
// broker. Bytes are paid for after the fact: copying N bytes puts the quota N/rate seconds in
// debt, and while it is in debt the throttled replicas copy nothing (the in-sync ones never
// wait). The long-run rate is the configured one; a single fetch may exceed it once (one fetch
// of replica.fetch.max.bytes per partition), as Kafka's quota may by one fetch. The rate changes
// live (dynamic broker config); 0 turns the throttle off and forgives the debt.

export class ReplicationQuota {
  #rate: number
  /** When the bytes recorded so far are paid for (ms since epoch). */
  #paidAt = 0

  constructor(bytesPerSec: number) {
    this.#rate = Math.max(0, bytesPerSec)
  }

  get rate(): number {
    return this.#rate
  }

  set rate(bytesPerSec: number) {
    const next = Math.max(0, bytesPerSec)
    if (next === 0) this.#paidAt = 0
    else if (this.#rate > 0 && this.#paidAt > Date.now()) {
      // The debt left, in bytes, is paid at the new rate.
      const now = Date.now()
      this.#paidAt = now + ((this.#paidAt - now) * this.#rate) / next
    }
    this.#rate = next
  }

  /** Whether throttled replicas must wait now. */
  exceeded(now = Date.now()): boolean {
    return this.#rate > 0 && this.#paidAt > now
  }

  /** How long until the debt is paid (0 when not in debt). */
  msUntilPaid(now = Date.now()): number {
    return this.#rate > 0 ? Math.max(0, this.#paidAt - now) : 0
  }

  /** Counts bytes copied for throttled replicas. */
  record(bytes: number, now = Date.now()): void {
    if (this.#rate <= 0 || bytes <= 0) return
    this.#paidAt = Math.max(this.#paidAt, now) + (bytes * 1000) / this.#rate
  }
}

/**
 * Whether `brokerId`'s replica of a partition is throttled: one a reassignment is adding that is
 * not in sync yet. (Kafka throttles the replicas its topic configs *.replication.throttled.replicas
 * list, which kafka-reassign-partitions.sh sets to the moving ones, and never an in-sync one.)
 */
export function isThrottledReplica(state: { addingReplicas: readonly number[]; isr: readonly number[] }, brokerId: number): boolean {
  return state.addingReplicas.includes(brokerId) && !state.isr.includes(brokerId)
}
