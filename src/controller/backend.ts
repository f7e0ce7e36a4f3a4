// Where the metadata log lives, behind one interface: the controller appends through it and
// replays it when it becomes active. Two implementations: embedded (a local file written by the
// single controller) and ZooKeeper (records in sequential znodes, the active controller elected
// through an ephemeral znode, every append checked against the controller epoch).

import type { MetadataRecord } from './records.js'

export interface ControllerCandidate {
  /** controller id */
  id: number
  /** host:port where this candidate serves brokers */
  endpoint: string
}

/** The candidate lost (or never held) the controller role: it must not write. */
export class NotControllerError extends Error {
  override name = 'NotControllerError'
  constructor(message: string, readonly active: ControllerCandidate | null = null) {
    super(message)
  }
}

export interface MetadataLogBackend {
  readonly kind: 'embedded' | 'zookeeper'
  /**
   * Resolves once this candidate is the active controller, with its controller epoch (higher
   * than any earlier controller's). `onDeposed` is called if it later loses the role (session
   * expired, another candidate took over); after that every append rejects.
   */
  campaign(candidate: ControllerCandidate, onDeposed: (reason: string) => void): Promise<number>
  /** Every committed record, oldest first (a snapshot's records, then the ones after it). */
  load(): Promise<MetadataRecord[]>
  /** Durably appends records, all or none; rejects with NotControllerError when deposed. */
  append(records: MetadataRecord[]): Promise<void>
  /** Replaces the history with records that rebuild the same image (compaction). */
  snapshot(records: MetadataRecord[]): Promise<void>
  /** The active controller as the store knows it (null when none, or unknown). */
  active(): Promise<ControllerCandidate | null>
  close(): Promise<void>
}
