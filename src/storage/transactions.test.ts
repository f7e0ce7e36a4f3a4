// Producer state in storage: transactions and markers, the last stable offset, the aborted
// transaction index, snapshots and replay across restarts (clean and crashed), expiry, truncation.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { KafkaError } from '../protocol/errors.js'
import { buildBatchSync } from '../protocol/records.js'
import { LogManager, PartitionLog, nodeFs, type LogConfig, type StorageFs } from './index.js'

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fjord-txn-'))
}

const open = (dir: string, config: Partial<LogConfig> = {}, opts: Parameters<typeof PartitionLog.open>[2] = {}) => PartitionLog.open(dir, { tailCacheBytes: 0, ...config }, opts)

function batch(producerId: number, epoch: number, seq: number, n: number, opts: { transactional?: boolean; timestamp?: number } = {}): Buffer {
  return buildBatchSync({
    records: Array.from({ length: n }, (_, i) => ({ key: `k${seq + i}`, value: `p${producerId}-${seq + i}` })),
    producerId, producerEpoch: epoch, baseSequence: seq, transactional: opts.transactional ?? false, timestamp: opts.timestamp,
  })
}

const code = (fn: () => unknown): string => {
  try { fn() } catch (err) { if (err instanceof KafkaError) return err.error.name; throw err }
  return 'NONE'
}

/** offsets 0: plain; 1-2: txn of 7; 3: txn of 8; 4: ABORT 7; 5-6: txn of 9 (left open). */
async function scenario(log: PartitionLog): Promise<void> {
  await log.append([buildBatchSync({ records: [{ key: null, value: 'plain' }] })]).done
  await log.append([batch(7, 0, 0, 2, { transactional: true })]).done
  assert.equal(log.lastStableOffset, 1)
  await log.append([batch(8, 0, 0, 1, { transactional: true })]).done
  const abort = log.appendControl({ producerId: 7, producerEpoch: 0, type: 'ABORT', coordinatorEpoch: 3 })
  assert.equal(abort.baseOffset, 4)
  // until the marker is written, the aborted transaction still holds the LSO
  assert.equal(log.lastStableOffset, 1)
  await abort.done
  assert.equal(log.lastStableOffset, 3)
  await log.append([batch(9, 0, 0, 2, { transactional: true })]).done
}

test('markers end transactions: the LSO moves and aborted transactions are listed', async () => {
  const log = await open(tmp())
  await scenario(log)
  assert.equal(log.lastStableOffset, 3)
  assert.deepEqual(log.abortedTransactions(0, log.lastStableOffset), [{ producerId: 7, firstOffset: 1 }])
  assert.deepEqual(log.abortedTransactions(0, 1), [])
  await log.appendControl({ producerId: 8, producerEpoch: 0, type: 'COMMIT', coordinatorEpoch: 3 }).done
  assert.equal(log.lastStableOffset, 5) // 9's transaction from 5 is open
  assert.deepEqual(log.abortedTransactions(0, 5), [{ producerId: 7, firstOffset: 1 }])
  assert.deepEqual(log.abortedTransactions(5, 8), []) // the abort marker is at 4
  assert.equal(log.producers.get(7)?.currentTxnFirstOffset, -1)
  assert.equal(log.producers.get(7)?.coordinatorEpoch, 3)
  assert.equal(log.producers.get(9)?.currentTxnFirstOffset, 5)
  // a marker for a producer with no open transaction is written and changes nothing
  const stray = log.appendControl({ producerId: 8, producerEpoch: 0, type: 'ABORT', coordinatorEpoch: 3 })
  await stray.done
  assert.equal(stray.baseOffset, 8)
  assert.equal(log.abortedTransactions(0, 100).length, 1)
  assert.equal(log.lastStableOffset, 5)
  // fencing
  await log.append([batch(9, 2, 0, 1, { transactional: true })]).done // epoch 2 for producer 9
  assert.equal(code(() => log.appendControl({ producerId: 9, producerEpoch: 1, type: 'COMMIT', coordinatorEpoch: 3 })), 'INVALID_PRODUCER_EPOCH')
  assert.equal(code(() => log.appendControl({ producerId: 7, producerEpoch: 0, type: 'COMMIT', coordinatorEpoch: 2 })), 'TRANSACTION_COORDINATOR_FENCED')
  assert.equal(code(() => log.producers.check(9, 1, 1, 1)), 'INVALID_PRODUCER_EPOCH')
  await log.appendControl({ producerId: 9, producerEpoch: 2, type: 'COMMIT', coordinatorEpoch: 3 }).done
  assert.equal(log.lastStableOffset, log.writtenEndOffset)
  const described = log.producers.activeProducers().find((p) => p.producerId === 9)
  assert.deepEqual(described, { producerId: 9, producerEpoch: 2, lastSequence: 0, lastTimestamp: described!.lastTimestamp, coordinatorEpoch: 3, currentTxnStartOffset: -1 })
  await log.close()
})

test('storage records producer state on append: duplicates and sequence gaps without record()', async () => {
  const log = await open(tmp())
  const a = log.append([batch(5, 0, 0, 3)])
  assert.equal(code(() => log.producers.check(5, 0, 5, 5)), 'OUT_OF_ORDER_SEQUENCE_NUMBER')
  assert.deepEqual(log.producers.check(5, 0, 0, 2), { firstSeq: 0, lastSeq: 2, firstOffset: 0, lastOffset: 2 })
  // the broker's record() after the append is harmless
  log.producers.record(5, 0, { firstSeq: 0, lastSeq: 2, firstOffset: a.baseOffset, lastOffset: a.lastOffset })
  assert.equal(log.producers.get(5)?.batches.length, 1)
  await a.done
  await log.close()
})

async function checkRestored(log: PartitionLog): Promise<void> {
  assert.equal(log.lastStableOffset, 3)
  assert.deepEqual(log.abortedTransactions(0, 100), [{ producerId: 7, firstOffset: 1 }])
  assert.deepEqual(log.producers.check(9, 0, 0, 1), { firstSeq: 0, lastSeq: 1, firstOffset: 5, lastOffset: 6 })
  assert.deepEqual(log.producers.check(7, 0, 0, 1), { firstSeq: 0, lastSeq: 1, firstOffset: 1, lastOffset: 2 })
  assert.equal(code(() => log.producers.check(7, 0, 3, 3)), 'OUT_OF_ORDER_SEQUENCE_NUMBER')
  assert.equal(log.producers.get(7)?.coordinatorEpoch, 3)
  assert.equal(log.producers.get(8)?.currentTxnFirstOffset, 3)
  // the open transactions still end with their markers
  await log.appendControl({ producerId: 8, producerEpoch: 0, type: 'ABORT', coordinatorEpoch: 3 }).done
  assert.equal(log.lastStableOffset, 5)
  assert.deepEqual(log.abortedTransactions(0, 100), [{ producerId: 7, firstOffset: 1 }, { producerId: 8, firstOffset: 3 }])
}

test('producer state and the transaction index survive a clean close', async () => {
  const dir = tmp()
  let log = await open(dir)
  await scenario(log)
  await log.close()
  const names = fs.readdirSync(dir)
  assert.ok(names.includes('00000000000000000000.txnindex'), names.join())
  assert.ok(names.includes('00000000000000000007.snapshot'), names.join())
  assert.equal(fs.statSync(path.join(dir, '00000000000000000000.txnindex')).size, 34)
  log = await open(dir)
  await checkRestored(log)
  await log.close()
})

test('after a crash (no close) producer state is replayed from the log', async () => {
  for (const segmentBytes of [1 << 30, 250]) {
    const dir = tmp()
    const log = await open(dir, { segmentBytes })
    await scenario(log)
    await log.flush()
    // no close: reopen the directory as after a kill -9 (the old instance is abandoned)
    await new Promise((r) => setTimeout(r, 20)) // roll snapshots are written in the background
    const reopened = await open(dir, { segmentBytes })
    if (segmentBytes === 250) {
      assert.ok(reopened.segments.length >= 2, `${reopened.segments.length} segments`)
      assert.ok(fs.readdirSync(dir).some((n) => n.endsWith('.snapshot')), 'roll snapshots')
    }
    await checkRestored(reopened)
    await reopened.close()
  }
})

test('replay without any snapshot, and with a corrupt one', async () => {
  const dir = tmp()
  let log = await open(dir, { segmentBytes: 250 })
  await scenario(log)
  await log.close()
  for (const n of fs.readdirSync(dir)) if (n.endsWith('.snapshot')) fs.writeFileSync(path.join(dir, n), Buffer.from('garbage!garbage!garbage!'))
  log = await open(dir, { segmentBytes: 250 })
  await checkRestored(log)
  await log.close()
  for (const n of fs.readdirSync(dir)) if (n.endsWith('.snapshot') || n.endsWith('.txnindex')) fs.unlinkSync(path.join(dir, n))
  log = await open(dir, { segmentBytes: 250 })
  assert.equal(log.lastStableOffset, 5)
  assert.deepEqual(log.abortedTransactions(0, 100), [{ producerId: 7, firstOffset: 1 }, { producerId: 8, firstOffset: 3 }])
  await log.close()
})

test('a LogManager without the clean-shutdown marker replays; duplicates are found after the restart', async () => {
  const dir = tmp()
  const m = new LogManager(dir, { sweepIntervalMs: 0 })
  await m.open()
  const log = await m.createPartition('t', 0, { tailCacheBytes: 0 })
  await scenario(log)
  await log.flush()
  // crash: no close, so no snapshot at the end and no .clean-shutdown
  const m2 = new LogManager(dir, { sweepIntervalMs: 0 })
  await m2.open()
  const again = m2.getPartition('t', 0)!
  await checkRestored(again)
  assert.deepEqual(again.producers.check(9, 0, 0, 1)?.firstOffset, 5)
  await m2.close()
})

test('idle producers expire after producer.id.expiration.ms, never with an open transaction', async () => {
  const dir = tmp()
  let now = 1_000_000
  const m = new LogManager(dir, { sweepIntervalMs: 0, now: () => now, producerExpirationCheckIntervalMs: 0 })
  await m.open()
  const log = await m.createPartition('t', 0, { producerIdExpirationMs: 10_000 })
  await log.append([batch(1, 0, 0, 1, { timestamp: now })]).done
  await log.append([batch(2, 0, 0, 1, { timestamp: now, transactional: true })]).done
  now += 5_000
  await log.append([batch(3, 0, 0, 1, { timestamp: now })]).done
  now += 6_000
  await m.sweep()
  assert.equal(log.producers.get(1), undefined)
  assert.ok(log.producers.get(2), 'open transaction kept')
  assert.ok(log.producers.get(3))
  await log.appendControl({ producerId: 2, producerEpoch: 0, type: 'COMMIT', coordinatorEpoch: 0, timestamp: now - 20_000 }).done
  now += 10_000
  await m.sweep()
  assert.equal(log.producers.size, 0)
  // an unknown producer may start at any sequence again
  assert.equal(log.producers.check(1, 0, 9, 9), undefined)
  await m.close()
})

test('truncateTo rebuilds producer state and the transaction index', async () => {
  const dir = tmp()
  const log = await open(dir, { segmentBytes: 250 })
  await scenario(log) // ABORT 7 at 4, 9 open from 5
  await log.truncateTo(4) // removes the marker and 9's batch
  assert.equal(log.logEndOffset, 4)
  assert.deepEqual(log.abortedTransactions(0, 100), [])
  assert.equal(log.lastStableOffset, 1) // 7's transaction is open again
  assert.equal(log.producers.get(9), undefined)
  await log.truncateTo(1)
  assert.equal(log.lastStableOffset, 1)
  assert.equal(log.producers.size, 0)
  await log.close()
  const reopened = await open(dir, { segmentBytes: 250 })
  assert.equal(reopened.logEndOffset, 1)
  assert.equal(reopened.producers.size, 0)
  await reopened.close()
})

test('a marker whose write fails reopens the transaction', async () => {
  const dir = tmp()
  let fail = false
  const f: StorageFs = { ...nodeFs, writev: (fd, bufs, pos) => (fail ? Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' })) : nodeFs.writev(fd, bufs, pos)) }
  const log = await open(dir, {}, { fs: f })
  await log.append([batch(7, 0, 0, 2, { transactional: true })]).done
  fail = true
  const marker = log.appendControl({ producerId: 7, producerEpoch: 0, type: 'ABORT', coordinatorEpoch: 1 })
  await assert.rejects(marker.done)
  fail = false
  assert.equal(log.producers.get(7)?.currentTxnFirstOffset, 0)
  assert.equal(log.lastStableOffset, 0)
  assert.deepEqual(log.abortedTransactions(0, 100), [])
  const retry = log.appendControl({ producerId: 7, producerEpoch: 0, type: 'ABORT', coordinatorEpoch: 1 })
  await retry.done
  assert.equal(retry.baseOffset, 2)
  assert.deepEqual(log.abortedTransactions(0, 100), [{ producerId: 7, firstOffset: 0 }])
  assert.equal(log.lastStableOffset, 3)
  await log.close()
})
