// Incremental fetch sessions (KIP-227). A consumer's first fetch (epoch 0) names every
// partition and opens a session; later fetches name only what changed and the broker answers
// only partitions with news (records, a moved high watermark or log start, an error).

import { randomInt } from 'node:crypto'

export const INITIAL_EPOCH = 0
export const FINAL_EPOCH = -1

export interface SessionPartition {
  topic: string
  topicId: string
  partition: number
  fetchOffset: number
  maxBytes: number
  /** the leader epoch the client last named (-1: none) */
  currentLeaderEpoch?: number
  /** what the client was last told, to decide whether an incremental answer must include it */
  sentHighWatermark: number
  sentLogStartOffset: number
}

export class FetchSession {
  epoch = 1 // the epoch the next incremental request must carry
  lastUsed = Date.now()
  readonly partitions = new Map<string, SessionPartition>()
  constructor(readonly id: number) {}

  static key(topic: string, partition: number): string {
    return `${topic}\0${partition}`
  }
}

export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>()

  constructor(private readonly maxSlots: number) {}

  create(): FetchSession | null {
    if (this.maxSlots <= 0) return null
    if (this.sessions.size >= this.maxSlots) {
      // evict the least recently used session; its client gets FETCH_SESSION_ID_NOT_FOUND and starts over
      let oldest: FetchSession | null = null
      for (const s of this.sessions.values()) if (!oldest || s.lastUsed < oldest.lastUsed) oldest = s
      if (oldest) this.sessions.delete(oldest.id)
    }
    let id: number
    do id = randomInt(1, 2 ** 31 - 1)
    while (this.sessions.has(id))
    const s = new FetchSession(id)
    this.sessions.set(id, s)
    return s
  }

  get(id: number): FetchSession | undefined {
    const s = this.sessions.get(id)
    if (s) s.lastUsed = Date.now()
    return s
  }

  remove(id: number): void {
    this.sessions.delete(id)
  }

  forgetTopic(topic: string): void {
    for (const s of this.sessions.values()) {
      for (const [k, p] of s.partitions) if (p.topic === topic) s.partitions.delete(k)
    }
  }

  get size(): number {
    return this.sessions.size
  }
}
