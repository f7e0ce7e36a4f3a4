import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { KafkaError } from '../protocol/errors.js'
import { baseOffsetOf, lastOffsetOf } from '../protocol/record-batch.js'
import { PartitionLog, LogManager, type LogConfig, nodeFs, type StorageFs } from './index.js'
import { decode, makeBatch, sizedBatch, readAll } from './test-batches.js'

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fjord-storage-'))
}

async function openLog(dir: string, config: Partial<LogConfig> = {}, opts: Parameters<typeof PartitionLog.open>[2] = {}): Promise<PartitionLog> {
  return PartitionLog.open(dir, { tailCacheBytes: 0, ...config }, opts)
}

/** Appends `n` single-record batches with keys k<i> and waits for them. */
async function fill(log: PartitionLog, n: number, size = 200, ts?: number): Promise<Buffer[]> {
  const out: Buffer[] = []
  for (let i = 0; i < n; i++) {
    const b = makeBatch([{ key: `k${i}`, value: `v${i}-${'x'.repeat(size)}`, timestamp: ts }])
    out.push(b)
    await log.append([b]).done
  }
  return out
}


test('append assigns offsets in call order and read returns the batch holding each offset', async () => {
  for (const tail of [0, 8 << 20]) {
    const dir = tmp()
    const log = await openLog(dir, { segmentBytes: 1500, indexIntervalBytes: 300, tailCacheBytes: tail })
    const results = []
    for (let i = 0; i < 60; i++) {
      const n = (i % 3) + 1
      results.push(log.append([makeBatch(Array.from({ length: n }, (_, j) => ({ key: `k${i}.${j}`, value: `v${i}.${j}` })))]))
    }
    await Promise.all(results.map((r) => r.done))
    let expect = 0
    for (const r of results) {
      assert.equal(r.baseOffset, expect)
      expect = r.lastOffset + 1
    }
    assert.equal(log.logEndOffset, expect)
    assert.ok(log.segments.length > 3, `rolled into ${log.segments.length} segments`)
    for (let off = 0; off < expect; off++) {
      const r = await log.read(off, 1)
      assert.equal(r.batches.length, 1, `one batch at least at ${off}`)
      assert.ok(baseOffsetOf(r.batches[0]) <= off && lastOffsetOf(r.batches[0]) >= off, `batch holds ${off}`)
    }
    const all = decode(await readAll(log))
    assert.equal(all.length, expect)
    all.forEach((rec, i) => assert.equal(rec.offset, i))
    const empty = await log.read(expect, 1000)
    assert.equal(empty.batches.length, 0)
    await assert.rejects(log.read(expect + 1, 1000), (e: unknown) => e instanceof KafkaError && e.code === 1)
    // maxOffset is an exclusive bound
    const bounded = await log.read(0, 1 << 20, 5)
    for (const b of bounded.batches) assert.ok(lastOffsetOf(b) < 5)
    await log.close()
  }
})

test('at least one whole batch even when larger than maxBytes; maxBytes bounds the rest', async () => {
  const dir = tmp()
  const log = await openLog(dir)
  for (let i = 0; i < 5; i++) await log.append([sizedBatch(4, 10_000)]).done
  const r = await log.read(0, 100)
  assert.equal(r.batches.length, 1)
  assert.ok(r.bytes > 100)
  const r2 = await log.read(0, 25_000)
  assert.equal(r2.batches.length, 2)
  await log.close()
})

test('segments roll by size and by time', async () => {
  const dir = tmp()
  let now = 1_000_000
  const log = await openLog(dir, { segmentBytes: 1 << 20, segmentMs: 1000 }, { now: () => now })
  await log.append([makeBatch([{ value: 'a' }], { timestamp: now })]).done
  await log.append([makeBatch([{ value: 'b' }], { timestamp: now })]).done
  assert.equal(log.segments.length, 1)
  now += 1001
  await log.append([makeBatch([{ value: 'c' }], { timestamp: now })]).done
  assert.equal(log.segments.length, 2)
  assert.equal(log.segments[1].baseOffset, 2)
  await log.close()
  const dir2 = tmp()
  const log2 = await openLog(dir2, { segmentBytes: 1000 })
  for (let i = 0; i < 10; i++) await log2.append([sizedBatch(1, 300)]).done
  assert.ok(log2.segments.length >= 4)
  for (const s of log2.segments) assert.ok(s.size <= 1000)
  const names = fs.readdirSync(dir2).filter((n) => n.endsWith('.log'))
  assert.equal(names.length, log2.segments.length)
  assert.match(names[0], /^0{20}\.log$/)
  await log2.close()
})

test('group commit: appends queued during a write go out in one writev', async () => {
  let writes = 0
  const counting: StorageFs = { ...nodeFs, writev: (fd, bufs, pos) => (writes++, nodeFs.writev(fd, bufs, pos)) }
  const dir = tmp()
  const log = await openLog(dir, {}, { fs: counting })
  const rs = []
  for (let i = 0; i < 100; i++) rs.push(log.append([sizedBatch(1, 1000)]))
  await Promise.all(rs.map((r) => r.done))
  assert.ok(writes <= 3, `${writes} writes for 100 appends`)
  assert.equal(decode(await readAll(log)).length, 100)
  await log.close()
})

test('index lookups across segments and reopen after a clean close', async () => {
  const dir = tmp()
  const log = await openLog(dir, { segmentBytes: 5000, indexIntervalBytes: 256 })
  await fill(log, 100)
  const before = decode(await readAll(log))
  const segs = log.segments.length
  await log.close()
  assert.ok(fs.existsSync(path.join(dir, '00000000000000000000.index')))
  assert.ok(fs.existsSync(path.join(dir, '00000000000000000000.timeindex')))
  const again = await openLog(dir, { segmentBytes: 5000, indexIntervalBytes: 256 }, { cleanShutdown: true })
  assert.equal(again.logEndOffset, 100)
  assert.equal(again.segments.length, segs)
  assert.deepEqual(decode(await readAll(again)), before)
  for (let off = 0; off < 100; off += 7) {
    const r = await again.read(off, 1)
    assert.equal(baseOffsetOf(r.batches[0]), off)
  }
  const r = await again.append([makeBatch([{ value: 'next' }])])
  assert.equal(r.baseOffset, 100)
  await r.done
  await again.close()
})

test('recovery after a crash: torn tail and missing index are truncated to the last good batch', async () => {
  const dir = tmp()
  const log = await openLog(dir, { flushMessages: 1, indexIntervalBytes: 256 })
  await fill(log, 20)
  // Simulated crash: no close. Half a batch and garbage at the end, index deleted.
  const active = path.join(dir, '00000000000000000000.log')
  const half = makeBatch([{ key: 'torn', value: 'y'.repeat(500) }])
  fs.appendFileSync(active, half.subarray(0, 200))
  fs.rmSync(path.join(dir, '00000000000000000000.index'), { force: true })
  const sizeBefore = fs.statSync(active).size
  const again = await openLog(dir, { indexIntervalBytes: 256 })
  assert.equal(again.logEndOffset, 20)
  assert.equal(fs.statSync(active).size, sizeBefore - 200)
  assert.equal(decode(await readAll(again)).length, 20)
  assert.equal((await again.append([makeBatch([{ value: 'after' }])])).baseOffset, 20)
  await again.close()

  // Garbage with a plausible length
  const dir2 = tmp()
  const log2 = await openLog(dir2, { indexIntervalBytes: 256 })
  await fill(log2, 10)
  await log2.flush()
  fs.appendFileSync(path.join(dir2, '00000000000000000000.log'), Buffer.from('000000000000000000000040deadbeef'.repeat(4), 'hex'))
  const again2 = await openLog(dir2, { indexIntervalBytes: 256 })
  assert.equal(again2.logEndOffset, 10)
  assert.equal(decode(await readAll(again2)).length, 10)
  await again2.close()
})

test('recovery: a corrupted CRC mid-file truncates at that batch', async () => {
  const dir = tmp()
  const log = await openLog(dir, { indexIntervalBytes: 100_000 })
  const batches = await fill(log, 10)
  const file = path.join(dir, '00000000000000000000.log')
  const pos = batches.slice(0, 6).reduce((n, b) => n + b.length, 0)
  const fd = fs.openSync(file, 'r+')
  fs.writeSync(fd, Buffer.from([0xff]), 0, 1, pos + 100)
  fs.closeSync(fd)
  const again = await openLog(dir, { indexIntervalBytes: 100_000 })
  assert.equal(again.logEndOffset, 6)
  assert.equal(fs.statSync(file).size, pos)
  await again.close()
})

test('retention by time and by size, never past the high watermark', async () => {
  const dir = tmp()
  let now = 10_000_000
  const log = await openLog(dir, { segmentBytes: 2000, retentionMs: 5000 }, { now: () => now })
  await fill(log, 10, 200, now - 10_000) // old
  await fill(log, 10, 200, now) // fresh
  const segs = log.segments.length
  const deleted = await log.applyRetention()
  assert.ok(deleted > 0 && deleted < segs)
  assert.ok(log.logStartOffset > 0 && log.logStartOffset <= 10)
  const rest = decode(await readAll(log))
  assert.ok(rest.every((r) => r.offset >= log.logStartOffset))
  assert.ok(rest.some((r) => r.offset === 19))
  await assert.rejects(log.read(0, 100), (e: unknown) => e instanceof KafkaError && e.code === 1)
  // Everything expired: the active segment goes too (after a roll), offsets continue.
  now += 100_000
  await log.applyRetention()
  assert.equal(log.logStartOffset, 20)
  assert.equal(log.size, 0)
  assert.equal((await log.append([makeBatch([{ value: 'new' }], { timestamp: now })])).baseOffset, 20)
  await log.close()

  const dir2 = tmp()
  const log2 = await openLog(dir2, { segmentBytes: 2000, retentionBytes: 4000 })
  await fill(log2, 40)
  await log2.applyRetention()
  assert.ok(log2.size >= 4000 - 2000 && log2.size - log2.segments[0].size < 4000, `size ${log2.size}`)
  assert.equal(log2.logStartOffset, log2.segments[0].baseOffset)
  await log2.close()
})

test('DeleteRecords moves the log start offset and deletes whole segments below it', async () => {
  const dir = tmp()
  const log = await openLog(dir, { segmentBytes: 2000, fileDeleteDelayMs: 0 })
  await fill(log, 30)
  const seen: number[] = []
  await log.close()
  const log2 = await openLog(dir, { segmentBytes: 2000, fileDeleteDelayMs: 0 }, { onLogStartOffsetChange: (o) => void seen.push(o) })
  const segs = log2.segments.length
  assert.equal(await log2.deleteRecordsBefore(17), 17)
  assert.equal(log2.logStartOffset, 17)
  assert.ok(log2.segments.length < segs)
  assert.ok(log2.segments[0].baseOffset <= 17)
  assert.deepEqual(seen.at(-1), 17)
  const r = await log2.read(17, 1)
  assert.equal(baseOffsetOf(r.batches[0]), 17)
  await assert.rejects(log2.read(16, 1))
  await assert.rejects(log2.deleteRecordsBefore(31))
  await log2.purgeDeleted()
  assert.ok(!fs.readdirSync(dir).some((n) => n.endsWith('.deleted')))
  await log2.close()
  // The manager persists the log start offset across restarts.
  const data = tmp()
  const m = new LogManager(data, { sweepIntervalMs: 0 })
  await m.open()
  const p = await m.createPartition('t', 0, { segmentBytes: 2000 })
  await fill(p, 30)
  await p.deleteRecordsBefore(13)
  await m.close()
  assert.ok(fs.existsSync(path.join(data, '.clean-shutdown')))
  const m2 = new LogManager(data, { sweepIntervalMs: 0 })
  await m2.open()
  assert.ok(!fs.existsSync(path.join(data, '.clean-shutdown')))
  assert.equal(m2.getPartition('t', 0)!.logStartOffset, 13)
  assert.equal(m2.getPartition('t', 0)!.logEndOffset, 30)
  await m2.close()
})

test('offsetForTimestamp and maxTimestampEntry', async () => {
  const dir = tmp()
  const log = await openLog(dir, { segmentBytes: 3000, indexIntervalBytes: 200 })
  for (let i = 0; i < 30; i++) {
    await log.append([makeBatch([{ value: 'a', timestamp: 1000 + i * 10 }, { value: 'b', timestamp: 1000 + i * 10 + 5 }])]).done
  }
  assert.deepEqual(await log.offsetForTimestamp(0), { offset: 0, timestamp: 1000 })
  assert.deepEqual(await log.offsetForTimestamp(1000 + 12 * 10 + 3), { offset: 25, timestamp: 1125 })
  assert.deepEqual(await log.offsetForTimestamp(1000 + 20 * 10), { offset: 40, timestamp: 1200 })
  assert.equal(await log.offsetForTimestamp(99_999), null)
  assert.deepEqual(log.maxTimestampEntry(), { offset: 59, timestamp: 1295 })
  await log.close()
  const again = await openLog(dir, { segmentBytes: 3000, indexIntervalBytes: 200 }, { cleanShutdown: true })
  assert.deepEqual(await again.offsetForTimestamp(1000 + 12 * 10 + 3), { offset: 25, timestamp: 1125 })
  assert.deepEqual(again.maxTimestampEntry(), { offset: 59, timestamp: 1295 })
  await again.close()
})

test('truncateTo removes whole batches at and after the offset', async () => {
  const dir = tmp()
  const log = await openLog(dir, { segmentBytes: 2000, tailCacheBytes: 1 << 20 })
  await fill(log, 30)
  await log.truncateTo(12)
  assert.equal(log.logEndOffset, 12)
  assert.equal(decode(await readAll(log)).length, 12)
  assert.equal((await log.append([makeBatch([{ value: 'z' }])])).baseOffset, 12)
  await log.close()
})

test('flush.messages=1: every append is fdatasynced before done resolves', async () => {
  let syncs = 0
  const counting: StorageFs = { ...nodeFs, fdatasync: (fd) => (syncs++, nodeFs.fdatasync(fd)) }
  const log = await openLog(tmp(), { flushMessages: 1 }, { fs: counting })
  for (let i = 0; i < 5; i++) {
    const before = syncs
    await log.append([makeBatch([{ value: 'x' }])]).done
    assert.ok(syncs > before)
  }
  await log.close()
})
