// Which partitions of its internal topic a coordinator serves, as in Kafka: the coordinator of a
// group (transactional id) is the leader of the partition of __consumer_offsets
// (__transaction_state) its key hashes to. becomeLeader starts a term for the partition: while
// its records are replayed the partition is loading (COORDINATOR_LOAD_IN_PROGRESS), then active;
// resign ends the term (NOT_COORDINATOR). A term is an object, so work that awaited something
// (a write, a replay) can tell whether the leadership it started under still holds.

import { ErrorCode, KafkaError, type KafkaErrorInfo } from '../protocol/errors.js'

const E = ErrorCode

/** One leadership term of one partition at this broker. */
export interface Term {
  readonly partition: number
  /** The partition's leader epoch as the broker named it; -1 when unknown. */
  leaderEpoch: number
  state: 'loading' | 'active'
  /** Settles once the load of this term has finished, failed or been abandoned. */
  loaded: Promise<void>
}

export class PartitionTerms {
  private readonly terms = new Map<number, Term>()

  constructor(
    readonly topic: string,
    readonly partitions: number,
  ) {}

  get(partition: number): Term | undefined {
    return this.terms.get(partition)
  }

  /** Starts a term in the loading state; the caller sets `loaded`. */
  begin(partition: number, leaderEpoch: number): Term {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new KafkaError(E.UNKNOWN_TOPIC_OR_PARTITION, `${this.topic} has no partition ${partition} (it has ${this.partitions})`)
    }
    const term: Term = { partition, leaderEpoch, state: 'loading', loaded: Promise.resolve() }
    this.terms.set(partition, term)
    return term
  }

  /** Ends the partition's term; returns it (undefined when the partition was not owned). */
  end(partition: number): Term | undefined {
    const t = this.terms.get(partition)
    this.terms.delete(partition)
    return t
  }

  isCurrent(term: Term): boolean {
    return this.terms.get(term.partition) === term
  }

  /** NONE when the partition is served here, COORDINATOR_LOAD_IN_PROGRESS while it loads, NOT_COORDINATOR otherwise. */
  errorFor(partition: number): KafkaErrorInfo {
    const t = this.terms.get(partition)
    if (!t) return E.NOT_COORDINATOR
    return t.state === 'loading' ? E.COORDINATOR_LOAD_IN_PROGRESS : E.NONE
  }

  get anyLoading(): boolean {
    for (const t of this.terms.values()) if (t.state === 'loading') return true
    return false
  }

  /** Partitions with a term (loading or active), ascending. */
  owned(): number[] {
    return [...this.terms.keys()].sort((a, b) => a - b)
  }

  clear(): void {
    this.terms.clear()
  }
}

/**
 * The answer to a failed write of a coordinator's records (Kafka's mapping in
 * GroupMetadataManager/TransactionStateManager): a lost leadership is NOT_COORDINATOR, so the
 * client finds the new coordinator; anything else is COORDINATOR_NOT_AVAILABLE (retried).
 */
export function coordinatorWriteError(err: unknown): KafkaErrorInfo {
  if (err instanceof KafkaError) {
    switch (err.code) {
      case E.NOT_LEADER_OR_FOLLOWER.code:
      case E.NOT_COORDINATOR.code:
      case E.KAFKA_STORAGE_ERROR.code:
        return E.NOT_COORDINATOR
    }
  }
  return E.COORDINATOR_NOT_AVAILABLE
}
