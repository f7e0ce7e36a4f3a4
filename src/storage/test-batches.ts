// Test helper: a minimal magic-v2 batch encoder (uncompressed) with a correct CRC32C.

import { crc32c } from '@node-rs/crc32'
import { BATCH_HEADER_SIZE, BATCH_LOG_OVERHEAD, BatchOffset, lastOffsetOf, writeInt64 } from '../protocol/record-batch.js'
import type { PartitionLog } from './partition-log.js'
import { forEachRecord } from './record-view.js'

export interface TestRecord {
  key?: string | null
  value?: string | null
  timestamp?: number
}

function varint(n: number, out: number[]): void {
  let z = n >= 0 ? n * 2 : -n * 2 - 1
  while (z >= 0x80) {
    out.push((z % 0x80) | 0x80)
    z = Math.floor(z / 0x80)
  }
  out.push(z)
}

export function makeBatch(records: TestRecord[], opts: { timestamp?: number; producerId?: number; size?: number } = {}): Buffer {
  const baseTs = records[0]?.timestamp ?? opts.timestamp ?? Date.now()
  const bodies: Buffer[] = []
  let maxTs = baseTs
  records.forEach((r, i) => {
    const ts = r.timestamp ?? baseTs
    if (ts > maxTs) maxTs = ts
    const b: number[] = [0]
    varint(ts - baseTs, b)
    varint(i, b)
    const key = r.key === undefined || r.key === null ? null : Buffer.from(r.key)
    const value = r.value === null ? null : Buffer.from(r.value ?? `v${i}`)
    varint(key ? key.length : -1, b)
    const parts = [Buffer.from(b)]
    if (key) parts.push(key)
    const b2: number[] = []
    varint(value ? value.length : -1, b2)
    parts.push(Buffer.from(b2))
    if (value) parts.push(value)
    parts.push(Buffer.from([0])) // no headers
    const body = Buffer.concat(parts)
    const len: number[] = []
    varint(body.length, len)
    bodies.push(Buffer.from(len), body)
  })
  const recs = Buffer.concat(bodies)
  const batch = Buffer.alloc(BATCH_HEADER_SIZE + recs.length)
  writeInt64(batch, BatchOffset.baseOffset, 0)
  batch.writeInt32BE(batch.length - BATCH_LOG_OVERHEAD, BatchOffset.batchLength)
  batch.writeInt32BE(0, BatchOffset.partitionLeaderEpoch)
  batch.writeInt8(2, BatchOffset.magic)
  batch.writeInt16BE(0, BatchOffset.attributes)
  batch.writeInt32BE(records.length - 1, BatchOffset.lastOffsetDelta)
  writeInt64(batch, BatchOffset.baseTimestamp, baseTs)
  writeInt64(batch, BatchOffset.maxTimestamp, maxTs)
  writeInt64(batch, BatchOffset.producerId, opts.producerId ?? -1)
  batch.writeInt16BE(-1, BatchOffset.producerEpoch)
  batch.writeInt32BE(-1, BatchOffset.baseSequence)
  batch.writeInt32BE(records.length, BatchOffset.recordCount)
  recs.copy(batch, BATCH_HEADER_SIZE)
  batch.writeUInt32BE(crc32c(batch.subarray(BatchOffset.attributes)), BatchOffset.crc)
  return batch
}

/** A batch of `n` records with values padded so the batch is about `bytes` long. */
export function sizedBatch(n: number, bytes: number, timestamp?: number): Buffer {
  const per = Math.max(1, Math.floor((bytes - BATCH_HEADER_SIZE) / n) - 8)
  const value = 'x'.repeat(per)
  return makeBatch(Array.from({ length: n }, () => ({ value, timestamp })), { timestamp })
}

/** (offset, key, value) of every record in some batches. */
export function decode(batches: Buffer[]): Array<{ offset: number; key: string | null; value: string | null; timestamp: number }> {
  const out: Array<{ offset: number; key: string | null; value: string | null; timestamp: number }> = []
  for (const b of batches) {
    const base = Number(b.readBigInt64BE(0))
    const baseTs = Number(b.readBigInt64BE(BatchOffset.baseTimestamp))
    forEachRecord(b, (r) => {
      // value: re-read from the record bytes after the key
      let at = r.start
      const rd = () => {
        let res = 0
        let mul = 1
        for (;;) {
          const x = b[at++]
          res += (x & 0x7f) * mul
          if ((x & 0x80) === 0) break
          mul *= 128
        }
        return res % 2 === 0 ? res / 2 : -(res + 1) / 2
      }
      rd() // length
      at++ // attributes
      rd() // ts delta
      rd() // offset delta
      const kl = rd()
      if (kl > 0) at += kl
      const vl = rd()
      const value = vl < 0 ? null : b.toString('utf8', at, at + vl)
      out.push({ offset: base + r.offsetDelta, key: r.key ? r.key.toString() : null, value, timestamp: baseTs + r.timestampDelta })
    })
  }
  return out
}

/** Every batch from `from` (default the log start) to the written end, reading 1 MiB at a time. */
export async function readAll(log: PartitionLog, from = log.logStartOffset): Promise<Buffer[]> {
  const out: Buffer[] = []
  let offset = from
  while (offset < log.writtenEndOffset) {
    const r = await log.read(offset, 1 << 20)
    if (r.batches.length === 0) break
    out.push(...r.batches)
    offset = lastOffsetOf(r.batches[r.batches.length - 1]!) + 1
  }
  return out
}
