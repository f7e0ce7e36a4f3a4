import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { LogManager } from './index.js'
import { makeBatch } from './test-batches.js'

test('LogManager: create, reload after unclean and clean stops, describe, delete', async () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'fjord-manager-'))
  const m = new LogManager(data, { sweepIntervalMs: 0 })
  await m.open()
  const a = await m.createPartition('my-topic.v1', 0, { segmentBytes: 1000 })
  const b = await m.createPartition('my-topic.v1', 1)
  for (let i = 0; i < 20; i++) await a.append([makeBatch([{ value: 'x'.repeat(100) }])]).done
  await b.append([makeBatch([{ value: 'y' }])]).done
  assert.ok(fs.existsSync(path.join(data, 'my-topic.v1-0', '00000000000000000000.log')))
  const d = m.describe()
  assert.equal(d.totalBytes, a.size + b.size)
  assert.equal(d.partitions.length, 2)
  // Unclean: no close; a second manager recovers from the files.
  await a.flush()
  const m2 = new LogManager(data, { sweepIntervalMs: 0 })
  await m2.open((topic) => (topic === 'my-topic.v1' ? { segmentBytes: 1000 } : {}))
  assert.equal(m2.getPartition('my-topic.v1', 0)!.logEndOffset, 20)
  assert.equal(m2.getPartition('my-topic.v1', 1)!.logEndOffset, 1)
  await m2.deletePartition('my-topic.v1', 1)
  assert.equal(m2.getPartition('my-topic.v1', 1), undefined)
  assert.ok(!fs.existsSync(path.join(data, 'my-topic.v1-1')))
  m2.updateConfig('my-topic.v1', { retentionMs: 1 })
  assert.equal(m2.getPartition('my-topic.v1', 0)!.config.retentionMs, 1)
  await m2.close()
  assert.ok(!fs.readdirSync(data).some((n) => n.endsWith('-delete')))
  const m3 = new LogManager(data, { sweepIntervalMs: 0 })
  await m3.open()
  assert.equal(m3.getPartition('my-topic.v1', 0)!.logEndOffset, 20)
  await m3.close()
  await m.close()
})
