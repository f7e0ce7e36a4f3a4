import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { lastOffsetOf } from '../protocol/record-batch.js'
import { Compression } from '../protocol/record-batch.js'
import { buildBatchSync } from '../protocol/records.js'
import { Cleaner, LogManager, PartitionLog, type LogConfig } from './index.js'
import { decode, makeBatch, readAll } from './test-batches.js'

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fjord-cleaner-'))
}

const compactConfig: Partial<LogConfig> = { cleanupPolicy: 'compact', segmentBytes: 1500, minCleanableDirtyRatio: 0.01, tailCacheBytes: 0, fileDeleteDelayMs: 0 }


test('compaction keeps the latest record per key, preserving offsets', async () => {
  const dir = tmp()
  const now = Date.now()
  const log = await PartitionLog.open(dir, compactConfig, { now: () => now })
  // 5 keys written 12 times each, 2 records per batch.
  for (let round = 0; round < 12; round++) {
    for (let k = 0; k < 5; k += 1) {
      await log.append([makeBatch([{ key: `k${k}`, value: `r${round}`, timestamp: now }, { key: `other${round % 3}`, value: `o${round}.${k}`, timestamp: now }])]).done
    }
  }
  const before = decode(await readAll(log))
  const sizeBefore = log.size
  const stats = await new Cleaner().clean(log, true)
  assert.ok(stats.cleaned, stats.reason)
  assert.ok(log.size < sizeBefore)
  const after = decode(await readAll(log))
  // Only the active segment may hold duplicates; in the cleaned part each key appears once.
  const activeBase = log.segments[log.segments.length - 1].baseOffset
  const cleanedKeys = after.filter((r) => r.offset < activeBase).map((r) => r.key)
  assert.equal(new Set(cleanedKeys).size, cleanedKeys.length)
  // The latest value of each key survives, at its original offset.
  const latest = new Map<string, { offset: number; value: string | null }>()
  for (const r of before) latest.set(r.key!, { offset: r.offset, value: r.value })
  for (const [key, v] of latest) {
    const found = after.find((r) => r.key === key && r.offset === v.offset)
    assert.ok(found, `latest ${key} at ${v.offset} kept`)
    assert.equal(found.value, v.value)
  }
  // Offsets still increase.
  for (let i = 1; i < after.length; i++) assert.ok(after[i].offset > after[i - 1].offset)
  assert.equal(log.logEndOffset, 120)
  assert.ok(!fs.readdirSync(dir).some((n) => n.endsWith('.cleaned') || n.endsWith('.swap')))
  await log.close()
  // Reopen: same content.
  const again = await PartitionLog.open(dir, compactConfig, { cleanShutdown: true })
  assert.deepEqual(decode(await readAll(again)), after)
  await again.close()
})

test('tombstones are removed only after delete.retention.ms', async () => {
  const dir = tmp()
  let now = 1_000_000_000
  const log = await PartitionLog.open(dir, { ...compactConfig, deleteRetentionMs: 10_000 }, { now: () => now })
  for (let i = 0; i < 10; i++) await log.append([makeBatch([{ key: 'gone', value: `v${i}`, timestamp: now }, { key: `keep${i}`, value: 'x'.repeat(100), timestamp: now }])]).done
  await log.append([makeBatch([{ key: 'gone', value: null, timestamp: now }])]).done
  for (let i = 0; i < 10; i++) await log.append([makeBatch([{ key: `filler${i}`, value: 'y'.repeat(200), timestamp: now }])]).done
  const cleaner = new Cleaner()
  await cleaner.clean(log, true)
  let recs = decode(await readAll(log)).filter((r) => r.key === 'gone')
  assert.equal(recs.length, 1, 'only the tombstone is left')
  assert.equal(recs[0].value, null)
  now += 20_000
  // New dirty data so that there is something to clean.
  for (let i = 0; i < 10; i++) await log.append([makeBatch([{ key: `filler${i}`, value: 'z'.repeat(200), timestamp: now }])]).done
  await cleaner.clean(log, true)
  recs = decode(await readAll(log)).filter((r) => r.key === 'gone')
  assert.equal(recs.length, 0, 'the tombstone is gone after delete.retention.ms')
  await log.close()
})

test('min.compaction.lag.ms keeps recent segments uncompacted', async () => {
  const dir = tmp()
  let now = 1_000_000_000
  const log = await PartitionLog.open(dir, { ...compactConfig, minCompactionLagMs: 60_000 }, { now: () => now })
  for (let i = 0; i < 30; i++) await log.append([makeBatch([{ key: 'same', value: `v${i}-${'p'.repeat(100)}`, timestamp: now }])]).done
  const stats = await new Cleaner().clean(log, true)
  assert.equal(stats.cleaned, false)
  assert.equal(decode(await readAll(log)).length, 30)
  now += 120_000
  const stats2 = await new Cleaner().clean(log, true)
  assert.ok(stats2.cleaned)
  assert.ok(decode(await readAll(log)).length < 30)
  await log.close()
})

test('min.cleanable.dirty.ratio: nothing happens below the ratio', async () => {
  const dir = tmp()
  const log = await PartitionLog.open(dir, { ...compactConfig, minCleanableDirtyRatio: 0.9 })
  for (let i = 0; i < 30; i++) await log.append([makeBatch([{ key: `k${i % 3}`, value: 'v'.repeat(100) }])]).done
  const c = new Cleaner()
  assert.ok((await c.clean(log)).cleaned, 'all dirty: ratio 1')
  for (let i = 0; i < 3; i++) await log.append([makeBatch([{ key: `k${i % 3}`, value: 'v'.repeat(100) }])]).done
  assert.equal((await c.clean(log)).cleaned, false)
  await log.close()
})

test('compressed batches are compacted through records.ts, producer fields kept', async () => {
  const dir = tmp()
  const log = await PartitionLog.open(dir, compactConfig)
  for (let i = 0; i < 20; i++) {
    const b = buildBatchSync({
      records: [{ key: 'a', value: `a${i}` }, { key: `b${i}`, value: 'b'.repeat(100) }],
      compression: Compression.Gzip,
      producerId: 42,
      producerEpoch: 3,
      baseSequence: i * 2,
    })
    await log.append([b]).done
  }
  await new Cleaner().clean(log, true)
  const batches = await readAll(log)
  const activeBase = log.segments[log.segments.length - 1].baseOffset
  for (const b of batches) {
    assert.equal(Number(b.readBigInt64BE(43)), 42)
    assert.equal(b.readInt16BE(51), 3)
    assert.equal(b.readInt16BE(21) & 7, Compression.Gzip)
  }
  const { readRecords } = await import('../protocol/records.js')
  const keysA = batches.filter((b) => Number(b.readBigInt64BE(0)) < activeBase).flatMap((b) => readRecords(b)).filter((r) => r.key?.toString() === 'a')
  assert.ok(keysA.length <= 1)
  await log.close()
})

test('reads during compaction never fail and see consistent data', async () => {
  const dir = tmp()
  const log = await PartitionLog.open(dir, { ...compactConfig, segmentBytes: 4000 })
  for (let i = 0; i < 400; i++) await log.append([makeBatch([{ key: `k${i % 20}`, value: `v${i}-${'q'.repeat(50)}` }])]).done
  let stop = false
  let reads = 0
  const reader = (async () => {
    while (!stop) {
      for (const off of [0, 37, 150, 299, 398]) {
        const r = await log.read(Math.max(off, log.logStartOffset), 3000)
        assert.ok(r.batches.length > 0)
        for (const rec of decode(r.batches)) assert.match(rec.value!, /^v\d+-q+$/)
        reads++
      }
    }
  })()
  const stats = await new Cleaner().clean(log, true)
  stop = true
  await reader
  assert.ok(stats.cleaned)
  assert.ok(reads > 0)
  await log.close()
})

test('the manager sweep runs the cleaner on compacted partitions', async () => {
  const data = tmp()
  const m = new LogManager(data, { sweepIntervalMs: 0 })
  await m.open()
  const log = await m.createPartition('compacted', 0, compactConfig)
  for (let i = 0; i < 100; i++) await log.append([makeBatch([{ key: `k${i % 4}`, value: 'w'.repeat(80) }])]).done
  const before = log.size
  await m.sweep()
  for (let i = 0; i < 50 && log.size >= before; i++) await new Promise((r) => setTimeout(r, 10))
  assert.ok(log.size < before)
  await m.close()
  assert.ok(fs.readFileSync(path.join(data, 'cleaner-offset-checkpoint'), 'utf8').includes('compacted 0 '))
})
