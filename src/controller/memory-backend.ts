// A metadata log in memory, for tests of the controller: the same contract as the embedded and
// ZooKeeper backends (campaign, load, append all-or-nothing, snapshot, deposition) without disk
// or network. The log lives in a MemoryMetadataStore that outlives backends, so a test can stop a
// controller and start another one on the same store (a restart), or campaign a second backend
// on it (a new controller), which deposes the first: its appends are then refused. Records are
// copied through JSON on the way in and out, as the real backends serialize them.

import { NotControllerError, type ControllerCandidate, type MetadataLogBackend } from './backend.js'
import type { MetadataRecord } from './records.js'

export class MemoryMetadataStore {
  /** The last snapshot's records (empty before any). */
  snapshot: MetadataRecord[] = []
  /** Records appended since the snapshot. */
  log: MetadataRecord[] = []
  /** Bumped by every campaign. */
  epoch = 0
  activeCandidate: ControllerCandidate | null = null
  /** Appends and snapshots that succeeded, for tests. */
  appends = 0
  snapshots = 0
  /** Makes the next append fail (an unreachable store), for tests. */
  failNextAppend: Error | null = null
  private readonly deposers = new Map<number, (reason: string) => void>()

  /** @internal */ claim(candidate: ControllerCandidate, onDeposed: (reason: string) => void): number {
    const previous = this.epoch
    this.epoch++
    this.activeCandidate = candidate
    const depose = this.deposers.get(previous)
    this.deposers.clear()
    this.deposers.set(this.epoch, onDeposed)
    depose?.(`controller epoch ${this.epoch} claimed by candidate ${candidate.id}`)
    return this.epoch
  }

  /** @internal */ release(epoch: number): void {
    if (this.epoch === epoch) {
      this.activeCandidate = null
      this.deposers.delete(epoch)
    }
  }
}

const copy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

export class MemoryBackend implements MetadataLogBackend {
  readonly kind = 'embedded' as const
  private epoch = -1
  private closed = false

  constructor(readonly store: MemoryMetadataStore = new MemoryMetadataStore()) {}

  async campaign(candidate: ControllerCandidate, onDeposed: (reason: string) => void): Promise<number> {
    if (this.closed) throw new Error('memory backend closed')
    this.epoch = this.store.claim(candidate, onDeposed)
    return this.epoch
  }

  async load(): Promise<MetadataRecord[]> {
    return copy([...this.store.snapshot, ...this.store.log])
  }

  private check(): void {
    if (this.closed || this.epoch < 0 || this.epoch !== this.store.epoch) {
      throw new NotControllerError(`not the active controller (epoch ${this.epoch}, store at ${this.store.epoch})`, this.store.activeCandidate)
    }
  }

  async append(records: MetadataRecord[]): Promise<void> {
    this.check()
    const failure = this.store.failNextAppend
    if (failure) {
      this.store.failNextAppend = null
      throw failure
    }
    this.store.log.push(...copy(records))
    this.store.appends++
  }

  async snapshot(records: MetadataRecord[]): Promise<void> {
    this.check()
    this.store.snapshot = copy(records)
    this.store.log = []
    this.store.snapshots++
  }

  async active(): Promise<ControllerCandidate | null> {
    return this.store.activeCandidate
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.store.release(this.epoch)
  }
}
