// Walks the records of an uncompressed magic-v2 batch without copying: each record is reported
// with its deltas, its key (a view into the batch) and its byte range. Used off the hot path
// only: compaction and timestamp lookups. Compressed batches go through src/protocol/records.ts.

import { BATCH_HEADER_SIZE, BatchOffset } from '../protocol/record-batch.js'

export interface RecordView {
  offsetDelta: number
  timestampDelta: number
  key: Buffer | null
  valueIsNull: boolean
  /** Byte range of the whole record (length prefix included) inside the batch buffer. */
  start: number
  end: number
}

class Cursor {
  constructor(
    public buf: Buffer,
    public at: number,
  ) {}

  varint(): number {
    // Zig-zag varint of up to 64 bits, decoded with Number arithmetic (exact up to 2^53).
    let result = 0
    let mul = 1
    for (let i = 0; i < 10; i++) {
      const b = this.buf[this.at++]
      if (b === undefined) throw new RangeError('record truncated')
      result += (b & 0x7f) * mul
      if ((b & 0x80) === 0) {
        // zig-zag: (n >>> 1) ^ -(n & 1), without 32-bit operators
        const half = Math.floor(result / 2)
        return result % 2 === 0 ? half : -half - 1
      }
      mul *= 128
    }
    throw new RangeError('varint too long')
  }
}

/** Calls `fn` for every record of an uncompressed batch starting at buf[0]. */
export function forEachRecord(batch: Buffer, fn: (r: RecordView) => void): void {
  const count = batch.readInt32BE(BatchOffset.recordCount)
  const c = new Cursor(batch, BATCH_HEADER_SIZE)
  for (let i = 0; i < count; i++) {
    const start = c.at
    const length = c.varint()
    const bodyStart = c.at
    c.at++ // attributes
    const timestampDelta = c.varint()
    const offsetDelta = c.varint()
    const keyLen = c.varint()
    let key: Buffer | null = null
    if (keyLen >= 0) {
      key = batch.subarray(c.at, c.at + keyLen)
      c.at += keyLen
    }
    const valueLen = c.varint()
    const end = bodyStart + length
    if (end > batch.length) throw new RangeError('record truncated')
    fn({ offsetDelta, timestampDelta, key, valueIsNull: valueLen < 0, start, end })
    c.at = end
  }
}

/** Key and value of the first record of an uncompressed batch (control batches), or null. */
export function firstRecord(batch: Buffer, at = 0): { key: Buffer | null; value: Buffer | null } | null {
  if (batch.readInt32BE(at + BatchOffset.recordCount) < 1) return null
  const c = new Cursor(batch, at + BATCH_HEADER_SIZE)
  c.varint() // length
  c.at++ // attributes
  c.varint() // timestamp delta
  c.varint() // offset delta
  const keyLen = c.varint()
  let key: Buffer | null = null
  if (keyLen >= 0) {
    key = batch.subarray(c.at, c.at + keyLen)
    c.at += keyLen
  }
  const valueLen = c.varint()
  const value = valueLen >= 0 ? batch.subarray(c.at, c.at + valueLen) : null
  if (c.at + Math.max(valueLen, 0) > batch.length) throw new RangeError('record truncated')
  return { key, value }
}
