import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { KafkaError } from '../protocol/errors.js'
import { LogManager, type PartitionLog } from './index.js'
import { decode, makeBatch, readAll } from './test-batches.js'

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fjord-volume-'))
}

/** What the logs hold, counted from their segments (the running total must agree). */
function held(m: LogManager): number {
  let n = 0
  for (const { log } of m.partitions()) n += log.diskBytes
  return n
}

const isStorageError = (e: unknown): boolean => e instanceof KafkaError && e.error.name === 'KAFKA_STORAGE_ERROR' && /volume full/.test(e.message)

async function fill(log: PartitionLog, value: string): Promise<{ acked: number; refused: KafkaError }> {
  let acked = 0
  for (;;) {
    try {
      await log.append([makeBatch([{ key: `k${acked}`, value }])]).done
      acked++
    } catch (err) {
      return { acked, refused: err as KafkaError }
    }
  }
}

test('volume quota: writes past volume.size.bytes fail as on a full disk, reads go on, a larger quota lets them in again', async () => {
  const data = tmp()
  const m = new LogManager(data, { sweepIntervalMs: 0, volumeSizeBytes: 20_000 })
  await m.open()
  const a = await m.createPartition('a', 0, { segmentBytes: 4000 })
  const b = await m.createPartition('b', 0)
  const { acked, refused } = await fill(a, 'x'.repeat(500))
  assert.ok(isStorageError(refused), String(refused))
  assert.ok(acked > 10 && acked < 40, `acked ${acked}`)
  assert.equal(m.volume.usedBytes, held(m))
  assert.ok(m.volume.usedBytes <= 20_000)
  // Every partition of the volume is full, followers too; nothing refused is visible.
  await assert.rejects(b.append([makeBatch([{ value: 'y'.repeat(500) }])]).done, isStorageError)
  await assert.rejects(b.appendAsFollower([makeBatch([{ value: 'f'.repeat(800) }])]).done, isStorageError)
  assert.equal(b.logEndOffset, 0)
  assert.equal(a.logEndOffset, acked)
  assert.equal(decode(await readAll(a)).length, acked)
  // A larger quota applies at once.
  m.volume.setLimit(1_000_000)
  await a.append([makeBatch([{ key: 'after', value: 'z' }])]).done
  await b.appendAsFollower([makeBatch([{ value: 'f'.repeat(800) }])]).done
  assert.equal(m.volume.usedBytes, held(m))
  const all = decode(await readAll(a))
  assert.equal(all.length, acked + 1)
  assert.equal(all[acked]!.key, 'after')
  await m.close()
  assert.equal(m.volume.usedBytes, 0)
  // Reopened with the quota: the running total starts from what the logs hold.
  const again = new LogManager(data, { sweepIntervalMs: 0, volumeSizeBytes: 1_000_000 })
  await again.open()
  assert.equal(again.volume.usedBytes, held(again))
  assert.ok(again.volume.usedBytes > 10 * 500)
  await again.close()
  fs.rmSync(data, { recursive: true, force: true })
})

test('volume quota: DeleteRecords, retention and deleting a partition free space; the running total follows', async () => {
  const data = tmp()
  const m = new LogManager(data, { sweepIntervalMs: 0, volumeSizeBytes: 30_000 })
  await m.open()
  const a = await m.createPartition('a', 0, { segmentBytes: 3000 })
  const first = await fill(a, 'x'.repeat(400))
  assert.ok(isStorageError(first.refused))
  // DeleteRecords below the last segment frees the segments under it.
  await a.deleteRecordsBefore(a.logEndOffset - 2)
  assert.equal(m.volume.usedBytes, held(m))
  assert.ok(m.volume.usedBytes < 6000, `used ${m.volume.usedBytes}`)
  const second = await fill(a, 'y'.repeat(400))
  assert.ok(second.acked > 10)
  // Retention by size.
  m.updateConfig('a', { retentionBytes: 5000 })
  await m.sweep(true)
  assert.equal(m.volume.usedBytes, held(m))
  assert.ok(m.volume.usedBytes < 10_000, `used ${m.volume.usedBytes}`)
  await a.append([makeBatch([{ value: 'after retention' }])]).done
  // Truncation (a follower diverging) gives space back too.
  const before = m.volume.usedBytes
  await a.truncateTo(a.logEndOffset - 3)
  assert.ok(m.volume.usedBytes < before)
  assert.equal(m.volume.usedBytes, held(m))
  const c = await m.createPartition('c', 0)
  await c.append([makeBatch([{ value: 'c'.repeat(1000) }])]).done
  const withC = m.volume.usedBytes
  const cBytes = c.diskBytes
  await m.deletePartition('c', 0)
  assert.equal(m.volume.usedBytes, withC - cBytes)
  assert.equal(m.volume.usedBytes, held(m))
  await m.close()
  fs.rmSync(data, { recursive: true, force: true })
})

test('volume quota: concurrent appends to many partitions never pass the quota together', async () => {
  const data = tmp()
  const m = new LogManager(data, { sweepIntervalMs: 0, volumeSizeBytes: 50_000 })
  await m.open()
  const logs = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((p) => m.createPartition('many', p)))
  const results = await Promise.allSettled(logs.flatMap((log) => Array.from({ length: 30 }, (_, i) => log.append([makeBatch([{ key: `${i}`, value: 'v'.repeat(300) }])]).done)))
  const ok = results.filter((r) => r.status === 'fulfilled').length
  assert.ok(ok > 0 && ok < results.length)
  for (const r of results) if (r.status === 'rejected') assert.ok(isStorageError(r.reason))
  assert.equal(m.volume.usedBytes, held(m))
  assert.ok(m.volume.usedBytes <= 50_000)
  let records = 0
  for (const log of logs) records += decode(await readAll(log)).length
  assert.equal(records, ok)
  await m.close()
  fs.rmSync(data, { recursive: true, force: true })
})
