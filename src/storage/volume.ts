// The bytes a log directory holds (segments and their offset and time indexes), kept as a running
// total, and the optional quota on them (the broker's volume.size.bytes). Partition logs report
// what they write and what maintenance (retention, DeleteRecords, truncation, compaction) frees;
// nothing walks the directory. A write that would pass the quota fails the way a write to a full
// disk does: with ENOSPC, so that the partition log rolls it back and answers
// KAFKA_STORAGE_ERROR through the same path a real full disk takes.

export class VolumeFullError extends Error {
  readonly code = 'ENOSPC'
  override name = 'VolumeFullError'
}

export class Volume {
  private used = 0
  /** Bytes of writes in flight, counted against the quota until they land or fail. */
  private reserved = 0
  /** The quota in bytes; -1: none (the file system's own size is the limit). */
  private limit: number

  constructor(limitBytes = -1) {
    this.limit = limitBytes
  }

  get limitBytes(): number {
    return this.limit
  }

  /** Changes the quota at once; writes already in flight are not affected. */
  setLimit(bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes < -1) throw new RangeError(`volume size ${bytes} must be -1 or a number of bytes`)
    this.limit = bytes
  }

  /** Bytes held: segments and indexes written. */
  get usedBytes(): number {
    return this.used
  }

  /** Bytes left under the quota (never negative), or -1 without a quota. */
  get freeBytes(): number {
    return this.limit < 0 ? -1 : Math.max(0, this.limit - this.used - this.reserved)
  }

  /** Holds `bytes` for a write about to start; throws VolumeFullError (code ENOSPC) when they do not fit. */
  reserve(bytes: number): void {
    if (this.limit >= 0 && this.used + this.reserved + bytes > this.limit) {
      throw new VolumeFullError(`ENOSPC: volume full: ${bytes} bytes do not fit, ${this.used + this.reserved} of volume.size.bytes=${this.limit} in use`)
    }
    this.reserved += bytes
  }

  /** A reserved write ended: drop the reservation; `written` is what the log now holds more (data and index entries). */
  settle(reserved: number, written: number): void {
    this.reserved -= reserved
    this.used += written
  }

  /** A change of the bytes held outside writes (load, deletion, truncation, compaction, close). */
  add(delta: number): void {
    this.used += delta
  }
}
