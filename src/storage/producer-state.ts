// Idempotent-producer state of one partition (Kafka's ProducerStateManager): for each producer
// id, its epoch and the metadata of its last five batches. A retried batch whose sequence range
// matches one of them is a duplicate and is answered with its original offset instead of being
// appended twice; a gap in sequence numbers is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is
// a fenced zombie, INVALID_PRODUCER_EPOCH.
//
// Not yet durable: the state lives in memory and is empty after a restart, where, as Kafka does
// for a producer it does not know, any first sequence is accepted. Snapshots and log replay
// arrive with exactly-once (issue 4).

import { ErrorCode, KafkaError } from '../protocol/errors.js'

export const MAX_TRACKED_BATCHES = 5
const NO_EPOCH = -1
const INT32_MAX = 2 ** 31 - 1

export interface BatchMetadata {
  firstSeq: number
  lastSeq: number
  firstOffset: number
  lastOffset: number
}

interface ProducerEntry {
  epoch: number
  batches: BatchMetadata[]
  lastUpdated: number
}

function nextSeq(seq: number): number {
  return seq === INT32_MAX ? 0 : seq + 1
}

export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerEntry>()

  /**
   * Checks a batch before it is appended. Returns the original batch when this one is a
   * duplicate; throws a KafkaError when it must be refused.
   */
  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number): BatchMetadata | undefined {
    const entry = this.producers.get(producerId)
    if (!entry) return undefined
    if (epoch < entry.epoch) {
      throw new KafkaError(ErrorCode.INVALID_PRODUCER_EPOCH, `Epoch of producer ${producerId} is ${epoch}, older than the current ${entry.epoch}`)
    }
    if (epoch > entry.epoch) {
      if (firstSeq !== 0 && entry.epoch !== NO_EPOCH) {
        throw new KafkaError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `Invalid sequence number ${firstSeq} for new epoch ${epoch} of producer ${producerId}: expected 0`)
      }
      return undefined
    }
    const duplicate = entry.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq)
    if (duplicate) return duplicate
    const last = entry.batches[entry.batches.length - 1]
    if (last && firstSeq !== nextSeq(last.lastSeq)) {
      throw new KafkaError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `Out of order sequence number for producer ${producerId}: ${firstSeq} (incoming seq. number), ${last.lastSeq} (current end sequence number)`)
    }
    return undefined
  }

  /** Records an appended batch. */
  record(producerId: number, epoch: number, batch: BatchMetadata, now = Date.now()): void {
    let entry = this.producers.get(producerId)
    if (!entry || epoch > entry.epoch) {
      entry = { epoch, batches: [], lastUpdated: now }
      this.producers.set(producerId, entry)
    }
    entry.batches.push(batch)
    if (entry.batches.length > MAX_TRACKED_BATCHES) entry.batches.shift()
    entry.lastUpdated = now
  }

  /** Forgets a producer whose last append failed, so that its retry is not taken for a duplicate. */
  forget(producerId: number): void {
    this.producers.delete(producerId)
  }

  /** Forgets producers idle for longer than `producer.id.expiration.ms`. */
  expire(olderThan: number): void {
    for (const [id, e] of this.producers) if (e.lastUpdated < olderThan) this.producers.delete(id)
  }

  /** After a truncation the tracked batches may no longer exist; start over, as after a restart. */
  clear(): void {
    this.producers.clear()
  }

  get size(): number {
    return this.producers.size
  }
}
