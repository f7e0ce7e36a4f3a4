import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { KafkaError } from '../protocol/errors.js'
import { lastOffsetOf } from '../protocol/record-batch.js'
import { PartitionLog, nodeFs, type StorageFs } from './index.js'
import { decode, makeBatch, readAll } from './test-batches.js'

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fjord-enospc-'))
}

/** A file system that writes only `budget` more bytes, then fails with ENOSPC (after a short write). */
function fullDisk(): { fs: StorageFs; setBudget(n: number): void } {
  let budget = Infinity
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC', errno: -28 })
  const f: StorageFs = {
    ...nodeFs,
    writev: async (fd, bufs, pos) => {
      let total = 0
      for (const b of bufs) total += b.length
      if (budget <= 0) throw enospc()
      if (total <= budget) {
        budget -= total
        return nodeFs.writev(fd, bufs, pos)
      }
      // Short write of what fits, like the kernel does.
      const joined = Buffer.concat(bufs).subarray(0, budget)
      budget = 0
      return nodeFs.writev(fd, [joined], pos)
    },
  }
  return { fs: f, setBudget: (n) => (budget = n) }
}


test('ENOSPC: append rejects with KAFKA_STORAGE_ERROR, no partial batch on disk, offsets roll back, appends resume', async () => {
  for (const tail of [0, 1 << 20]) {
    const dir = tmp()
    const disk = fullDisk()
    const log = await PartitionLog.open(dir, { tailCacheBytes: tail, segmentBytes: 3000 }, { fs: disk.fs })
    for (let i = 0; i < 10; i++) await log.append([makeBatch([{ key: `k${i}`, value: 'x'.repeat(100) }])]).done
    const goodSize = log.size
    disk.setBudget(50)
    // Several appends queued while the disk is full: all fail, none visible.
    const a = log.append([makeBatch([{ key: 'fail1', value: 'y'.repeat(300) }])])
    const b = log.append([makeBatch([{ key: 'fail2', value: 'y'.repeat(300) }])])
    assert.equal(a.baseOffset, 10)
    const errs = await Promise.allSettled([a.done, b.done])
    for (const e of errs) {
      assert.equal(e.status, 'rejected')
      assert.ok((e as PromiseRejectedResult).reason instanceof KafkaError)
      assert.equal(((e as PromiseRejectedResult).reason as KafkaError).code, 56)
    }
    assert.equal(log.logEndOffset, 10)
    assert.equal(log.size, goodSize)
    const files = fs.readdirSync(dir).filter((n) => n.endsWith('.log'))
    const onDisk = files.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
    assert.equal(onDisk, goodSize, 'file cut back to the last good batch')
    // Reads keep working and do not see the failed offsets.
    assert.equal(decode(await readAll(log)).length, 10)
    assert.equal((await log.read(10, 1000)).batches.length, 0)
    // Space is back.
    disk.setBudget(Infinity)
    const c = log.append([makeBatch([{ key: 'ok', value: 'z' }])])
    assert.equal(c.baseOffset, 10)
    await c.done
    const all = decode(await readAll(log))
    assert.equal(all.length, 11)
    assert.equal(all[10].key, 'ok')
    await log.close()
    // And the file recovers cleanly.
    const again = await PartitionLog.open(dir, { segmentBytes: 3000 })
    assert.equal(again.logEndOffset, 11)
    await again.close()
  }
})

test('ENOSPC when a roll creates a new segment: the new segment is dropped', async () => {
  const dir = tmp()
  let failOpen = false
  const f: StorageFs = {
    ...nodeFs,
    open: (p, flags) => (failOpen && p.endsWith('.log') ? Promise.reject(Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' })) : nodeFs.open(p, flags)),
  }
  const log = await PartitionLog.open(dir, { segmentBytes: 600, tailCacheBytes: 0 }, { fs: f })
  for (let i = 0; i < 3; i++) await log.append([makeBatch([{ value: 'x'.repeat(150) }])]).done
  const segs = log.segments.length
  failOpen = true
  const r = log.append([makeBatch([{ value: 'y'.repeat(400) }])])
  await assert.rejects(r.done, (e: unknown) => e instanceof KafkaError && e.code === 56)
  assert.equal(log.logEndOffset, 3)
  failOpen = false
  const r2 = log.append([makeBatch([{ value: 'w'.repeat(400) }])])
  assert.equal(r2.baseOffset, 3)
  await r2.done
  assert.ok(log.segments.length >= segs)
  assert.equal(decode(await readAll(log)).length, 4)
  await log.close()
})

test('whenWritten settles with the write holding an offset: resolved once written, rejected when rolled back', async () => {
  const dir = tmp()
  const disk = fullDisk()
  const log = await PartitionLog.open(dir, {}, { fs: disk.fs })
  const first = log.append([makeBatch([{ key: 'a', value: '1' }])])
  await log.whenWritten(first.lastOffset) // resolves once the write lands
  await first.done
  await log.whenWritten(first.lastOffset) // already written: at once

  disk.setBudget(0)
  const failing = log.append([makeBatch([{ key: 'b', value: '2' }])])
  const waiting = log.whenWritten(failing.lastOffset)
  await assert.rejects(failing.done, (e: unknown) => e instanceof KafkaError && e.error.name === 'KAFKA_STORAGE_ERROR')
  await assert.rejects(waiting, (e: unknown) => e instanceof KafkaError && e.error.name === 'KAFKA_STORAGE_ERROR')
  await assert.rejects(log.whenWritten(failing.lastOffset), (e: unknown) => e instanceof KafkaError)
  await log.close()
  fs.rmSync(dir, { recursive: true, force: true })
})
