// Storage for replication: the epoch cache kept by PartitionLog, follower appends (batches copied
// from a leader), truncation (to an offset, fully) and what they do to epochs, producer state and
// the transaction index, and the epoch checkpoint across restarts and crashes.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { KafkaError } from '../protocol/errors.js'
import { BatchOffset, baseOffsetOf, lastOffsetOf } from '../protocol/record-batch.js'
import { buildBatchSync } from '../protocol/records.js'
import { LEADER_EPOCH_CHECKPOINT, PartitionLog, UnexpectedAppendOffsetError, nodeFs, type LogConfig, type StorageFs } from './index.js'
import { decode, readAll } from './test-batches.js'

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fjord-repl-'))
}

const open = (dir: string, config: Partial<LogConfig> = {}, opts: Parameters<typeof PartitionLog.open>[2] = {}) => PartitionLog.open(dir, { tailCacheBytes: 0, ...config }, opts)

let seq = 0
/** A batch of n records stamped with a leader epoch, as the produce handler stamps it. */
function batch(epoch: number, n = 1, opts: { producerId?: number; producerEpoch?: number; baseSequence?: number; transactional?: boolean; size?: number } = {}): Buffer {
  const pad = 'x'.repeat(opts.size ?? 40)
  return buildBatchSync({
    records: Array.from({ length: n }, () => ({ key: `k${seq}`, value: `v${seq++}-${pad}` })),
    partitionLeaderEpoch: epoch,
    producerId: opts.producerId,
    producerEpoch: opts.producerEpoch,
    baseSequence: opts.baseSequence,
    transactional: opts.transactional,
  })
}

const pairs = (log: PartitionLog): Array<[number, number]> => log.epochs.entries().map((e) => [e.epoch, e.startOffset])

/** Copies the leader's batches to the follower, `maxBytes` per fetch, as a fetcher would. */
async function replicate(leader: PartitionLog, follower: PartitionLog, maxBytes = 1 << 20): Promise<number> {
  let fetches = 0
  while (follower.logEndOffset < leader.writtenEndOffset) {
    const r = await leader.read(follower.logEndOffset, maxBytes)
    if (r.batches.length === 0) break
    await follower.appendAsFollower(r.batches).done
    fetches++
  }
  return fetches
}

async function sameBytes(a: PartitionLog, b: PartitionLog): Promise<void> {
  const x = Buffer.concat(await readAll(a))
  const y = Buffer.concat(await readAll(b))
  assert.equal(x.length, y.length)
  assert.ok(x.equals(y), 'byte-identical batches')
}

const code = (fn: () => unknown): string => {
  try {
    fn()
  } catch (err) {
    if (err instanceof KafkaError) return err.error.name
    throw err
  }
  return 'NONE'
}

/** Leader log: epochs 0,0,2,2,5 over batches of 1..3 records. Offsets: 0 | 1-2 | 3-5 | 6 | 7-8. */
async function leaderWithEpochs(dir: string, config: Partial<LogConfig> = {}): Promise<PartitionLog> {
  const log = await open(dir, config)
  const epochs = [0, 0, 2, 2, 5]
  const sizes = [1, 2, 3, 1, 2]
  for (let i = 0; i < epochs.length; i++) await log.append([batch(epochs[i], sizes[i])]).done
  return log
}

test('the leader log records epochs from batch headers; endOffsetForEpoch', async () => {
  const dir = tmp()
  const log = await leaderWithEpochs(dir)
  assert.equal(log.logEndOffset, 9)
  assert.deepEqual(pairs(log), [[0, 0], [2, 3], [5, 7]])
  assert.deepEqual(log.endOffsetForEpoch(0), { epoch: 0, endOffset: 3 })
  assert.deepEqual(log.endOffsetForEpoch(1), { epoch: 0, endOffset: 3 })
  assert.deepEqual(log.endOffsetForEpoch(2), { epoch: 2, endOffset: 7 })
  assert.deepEqual(log.endOffsetForEpoch(4), { epoch: 2, endOffset: 7 })
  assert.deepEqual(log.endOffsetForEpoch(5), { epoch: 5, endOffset: 9 })
  assert.deepEqual(log.endOffsetForEpoch(6), { epoch: -1, endOffset: -1 })
  assert.deepEqual(log.endOffsetForEpoch(-1), { epoch: -1, endOffset: -1 })
  // An older epoch in a later batch (a stale leader's) does not move the cache.
  await log.append([batch(3)]).done
  assert.deepEqual(pairs(log), [[0, 0], [2, 3], [5, 7]])
  // Batches without an epoch (-1) neither.
  await log.append([batch(-1)]).done
  assert.equal(log.epochs.latestEpoch, 5)
  // Markers carry the latest epoch by default, or the one given.
  const m = log.appendControl({ producerId: 1, producerEpoch: 0, type: 'COMMIT', coordinatorEpoch: 0 })
  await m.done
  const marker = (await log.read(m.baseOffset, 1000)).batches[0]
  assert.equal(marker.readInt32BE(BatchOffset.partitionLeaderEpoch), 5)
  await log.appendControl({ producerId: 1, producerEpoch: 0, type: 'COMMIT', coordinatorEpoch: 0, partitionLeaderEpoch: 7 }).done
  assert.deepEqual(pairs(log), [[0, 0], [2, 3], [5, 7], [7, 12]])
  await log.close()
  assert.equal(fs.readFileSync(path.join(dir, LEADER_EPOCH_CHECKPOINT), 'utf8'), '0\n4\n0 0\n2 3\n5 7\n7 12\n')
})

test('a follower copying the leader batch by batch gets byte-identical batches and the same epoch cache', async () => {
  for (const [segmentBytes, tail] of [[1 << 20, 0], [300, 0], [300, 1 << 20]] as const) {
    const leader = await leaderWithEpochs(tmp(), { segmentBytes })
    const fdir = tmp()
    const follower = await open(fdir, { segmentBytes, tailCacheBytes: tail })
    // one batch per fetch
    const fetches = await replicate(leader, follower, 1)
    assert.equal(fetches, 5)
    assert.equal(follower.logEndOffset, 9)
    assert.equal(follower.writtenEndOffset, 9)
    await sameBytes(leader, follower)
    assert.deepEqual(pairs(follower), pairs(leader))
    for (let e = -1; e <= 6; e++) assert.deepEqual(follower.endOffsetForEpoch(e), leader.endOffsetForEpoch(e), `epoch ${e}`)
    if (segmentBytes === 300) assert.ok(follower.segments.length > 1, 'the follower rolls segments too')
    // every offset readable through the follower's indexes (or tail)
    for (let o = 0; o < 9; o++) {
      const r = await follower.read(o, 1)
      assert.ok(baseOffsetOf(r.batches[0]) <= o && lastOffsetOf(r.batches[0]) >= o)
    }
    // more leader appends, several batches per fetch
    for (let i = 0; i < 6; i++) await leader.append([batch(i < 3 ? 5 : 8, 2)]).done
    await replicate(leader, follower)
    await sameBytes(leader, follower)
    assert.deepEqual(pairs(follower), [[0, 0], [2, 3], [5, 7], [8, 15]])
    await leader.close()
    await follower.close()
    // and after a restart
    const again = await open(fdir, { segmentBytes })
    assert.deepEqual(pairs(again), [[0, 0], [2, 3], [5, 7], [8, 15]])
    assert.equal(again.logEndOffset, 21)
    assert.deepEqual(decode(await readAll(again)).map((r) => r.offset), Array.from({ length: 21 }, (_, i) => i))
    await again.close()
  }
})

test('appendAsFollower refuses a gap, an overlap, a bad CRC and a bad length, appending nothing', async () => {
  const leader = await leaderWithEpochs(tmp())
  const all = await readAll(leader)
  const follower = await open(tmp())
  await follower.appendAsFollower([all[0]]).done // offset 0
  // the next batch must start at 1: skipping batch [1-2] is a gap
  assert.throws(() => follower.appendAsFollower([all[2]]), (e: unknown) => e instanceof UnexpectedAppendOffsetError && e.firstOffset === 3 && e.expectedOffset === 1 && /offset 3, expected the log end offset 1/.test(e.message))
  // an overlap: the batch at 0 again
  assert.throws(() => follower.appendAsFollower([all[0]]), (e: unknown) => e instanceof UnexpectedAppendOffsetError && e.firstOffset === 0 && e.expectedOffset === 1)
  // the second batch not right after the first
  assert.throws(() => follower.appendAsFollower([all[1], all[3]]), (e: unknown) => e instanceof UnexpectedAppendOffsetError && e.batchIndex === 1 && e.firstOffset === 6 && e.expectedOffset === 3)
  // a flipped byte in a record: CRC32C mismatch, and nothing of the list is appended
  const bad = Buffer.from(all[2])
  bad[bad.length - 3] ^= 0xff
  assert.equal(code(() => follower.appendAsFollower([all[1], bad])), 'CORRUPT_MESSAGE')
  // the length field must match the buffer
  assert.equal(code(() => follower.appendAsFollower([all[1].subarray(0, all[1].length - 1)])), 'CORRUPT_MESSAGE')
  assert.equal(code(() => follower.appendAsFollower([])), 'INVALID_REQUEST')
  assert.equal(follower.logEndOffset, 1)
  assert.deepEqual(pairs(follower), [[0, 0]])
  // the partition leader epoch is outside the CRC: a restamped copy is still valid
  await follower.appendAsFollower([all[1], all[2]]).done
  assert.equal(follower.logEndOffset, 6)
  // a compacted leader may have gaps between batches: accepted for compacted topics (or when asked)
  const compacted = await open(tmp(), { cleanupPolicy: 'compact' })
  const r = compacted.appendAsFollower([all[1], all[3]])
  assert.deepEqual([r.baseOffset, r.lastOffset], [1, 6])
  await r.done
  assert.equal(compacted.logEndOffset, 7)
  assert.deepEqual(pairs(compacted), [[0, 1], [2, 6]])
  assert.deepEqual((await compacted.read(3, 1000)).batches.map((b) => baseOffsetOf(b)), [6])
  assert.throws(() => compacted.appendAsFollower([all[3]]), UnexpectedAppendOffsetError, 'never below the log end')
  await compacted.close()
  // batches sliced from one big fetch response are copied: the tail cache does not pin the response
  const response = Buffer.concat([Buffer.alloc(100_000), all[3], all[4]])
  const views = [response.subarray(100_000, 100_000 + all[3].length), response.subarray(100_000 + all[3].length)]
  const tailed = await open(tmp(), { tailCacheBytes: 1 << 20, cleanupPolicy: 'compact' })
  await tailed.appendAsFollower(views).done
  const cached = await tailed.read(6, 1 << 20)
  assert.equal(cached.batches.length, 2)
  for (const b of cached.batches) assert.notEqual(b.buffer, response.buffer)
  assert.ok(Buffer.concat(cached.batches).equals(Buffer.concat([all[3], all[4]])))
  await tailed.close()
  await leader.close()
  await follower.close()
})

test('a follower whose empty log starts inside the leader batch: the error names the batch start, the log restarts there', async () => {
  const leader = await leaderWithEpochs(tmp())
  await leader.deleteRecordsBefore(4) // inside the batch 3-5
  const follower = await open(tmp())
  await follower.truncateFullyAndStartAt(leader.logStartOffset)
  const fetched = (await leader.read(follower.logEndOffset, 1 << 20)).batches
  assert.equal(baseOffsetOf(fetched[0]), 3)
  let err: unknown
  try {
    follower.appendAsFollower(fetched)
  } catch (e) {
    err = e
  }
  assert.ok(err instanceof UnexpectedAppendOffsetError && err.firstOffset === 3 && err.expectedOffset === 4)
  // what Kafka's follower does: an empty log restarts at the batch's base offset, then takes the leader's log start
  assert.equal(follower.logStartOffset, follower.logEndOffset)
  await follower.truncateFullyAndStartAt(err.firstOffset)
  await follower.appendAsFollower(fetched).done
  await follower.deleteRecordsBefore(leader.logStartOffset)
  assert.equal(follower.logStartOffset, 4)
  assert.equal(follower.logEndOffset, 9)
  assert.deepEqual(pairs(follower), [[2, 4], [5, 7]])
  assert.deepEqual(pairs(follower), pairs(leader))
  await follower.close()
  await leader.close()
})

test('truncateTo drops epochs, producer state, snapshots and aborted transactions above the offset', async () => {
  const dir = tmp()
  const log = await open(dir, { segmentBytes: 400 })
  // producer 7 idempotent: epoch 0 at 0-1 and 2-3, then leader epoch 3 at 4-5 and 6-7
  await log.append([batch(0, 2, { producerId: 7, producerEpoch: 0, baseSequence: 0 })]).done
  await log.append([batch(0, 2, { producerId: 7, producerEpoch: 0, baseSequence: 2 })]).done
  await log.append([batch(3, 2, { producerId: 7, producerEpoch: 0, baseSequence: 4 })]).done
  await log.append([batch(3, 2, { producerId: 7, producerEpoch: 0, baseSequence: 6 })]).done
  // a transaction of producer 9 aborted at 10 (leader epoch 4)
  await log.append([batch(4, 2, { producerId: 9, producerEpoch: 0, baseSequence: 0, transactional: true })]).done
  await log.appendControl({ producerId: 9, producerEpoch: 0, type: 'ABORT', coordinatorEpoch: 1 }).done
  assert.equal(log.logEndOffset, 11)
  assert.deepEqual(pairs(log), [[0, 0], [3, 4], [4, 8]])
  assert.deepEqual(log.abortedTransactions(0, 11), [{ producerId: 9, firstOffset: 8 }])
  await log.flush()
  await new Promise((r) => setTimeout(r, 20)) // roll snapshots land
  assert.ok(log.segments.length >= 3, `${log.segments.length} segments`)

  await log.truncateTo(9) // the marker and the batch [8-9] go
  assert.equal(log.logEndOffset, 8)
  assert.deepEqual(pairs(log), [[0, 0], [3, 4]])
  assert.deepEqual(log.abortedTransactions(0, 100), [])
  assert.equal(log.producers.get(9), undefined)
  assert.equal(log.lastStableOffset, 8)

  await log.truncateTo(4)
  assert.equal(log.logEndOffset, 4)
  assert.deepEqual(pairs(log), [[0, 0]])
  // the producer's batches above 4 are forgotten: seq 4 is the next one, 6 a gap
  assert.deepEqual(log.producers.check(7, 0, 2, 3), { firstSeq: 2, lastSeq: 3, firstOffset: 2, lastOffset: 3 })
  assert.equal(log.producers.check(7, 0, 4, 5), undefined)
  assert.equal(code(() => log.producers.check(7, 0, 6, 7)), 'OUT_OF_ORDER_SEQUENCE_NUMBER')
  const snapshots = fs.readdirSync(dir).filter((n) => n.endsWith('.snapshot')).map((n) => Number(n.slice(0, 20)))
  assert.ok(snapshots.every((o) => o <= 4), `no snapshot above the new end: ${snapshots.join()}`)
  // the checkpoint was written before truncateTo resolved
  assert.equal(fs.readFileSync(path.join(dir, LEADER_EPOCH_CHECKPOINT), 'utf8'), '0\n1\n0 0\n')
  // a new leader epoch writes from here
  await log.append([batch(6, 1, { producerId: 7, producerEpoch: 0, baseSequence: 4 })]).done
  assert.deepEqual(pairs(log), [[0, 0], [6, 4]])
  await log.close()
  const again = await open(dir, { segmentBytes: 400 })
  assert.deepEqual(pairs(again), [[0, 0], [6, 4]])
  assert.deepEqual(again.producers.check(7, 0, 4, 4), { firstSeq: 4, lastSeq: 4, firstOffset: 4, lastOffset: 4 })
  // below the log start: truncateTo empties the log at that offset
  await again.deleteRecordsBefore(3)
  assert.deepEqual(pairs(again), [[0, 3], [6, 4]], 'the log start moved: the first epoch starts there')
  await again.truncateTo(2)
  assert.equal(again.logStartOffset, 2)
  assert.equal(again.logEndOffset, 2)
  assert.deepEqual(pairs(again), [])
  await again.close()
})

test('truncateTo without a snapshot below the offset replays the whole log, even after a clean open', async () => {
  const dir = tmp()
  const log = await open(dir, { segmentBytes: 300 })
  await log.append([batch(0, 1, { producerId: 5, producerEpoch: 0, baseSequence: 0 })]).done
  for (let i = 0; i < 10; i++) await log.append([batch(0, 2)]).done
  await log.close()
  for (const n of fs.readdirSync(dir)) if (n.endsWith('.snapshot')) fs.unlinkSync(path.join(dir, n))
  // a clean open without snapshots rebuilds from the last two segments only (producer 5 is older)
  const again = await open(dir, { segmentBytes: 300 }, { cleanShutdown: true })
  assert.ok(again.segments.length > 3)
  assert.equal(again.producers.get(5), undefined)
  await again.truncateTo(again.logEndOffset - 2)
  assert.deepEqual(again.producers.check(5, 0, 0, 0), { firstSeq: 0, lastSeq: 0, firstOffset: 0, lastOffset: 0 })
  await again.close()
})

test('truncateFullyAndStartAt: an empty log at the offset, no epochs, no producer state; appends follow', async () => {
  const dir = tmp()
  const starts: number[] = []
  const leader = await leaderWithEpochs(tmp())
  const log = await open(dir, { segmentBytes: 300 }, { onLogStartOffsetChange: (o) => void starts.push(o) })
  await log.append([batch(1, 3, { producerId: 4, producerEpoch: 0, baseSequence: 0, transactional: true })]).done
  for (let i = 0; i < 5; i++) await log.append([batch(1, 2)]).done
  await log.flush()
  assert.ok(log.segments.length > 1)
  assert.equal(log.lastStableOffset, 0)
  await log.truncateFullyAndStartAt(7)
  assert.equal(log.logStartOffset, 7)
  assert.equal(log.logEndOffset, 7)
  assert.equal(log.writtenEndOffset, 7)
  assert.deepEqual(log.segments.map((s) => [s.baseOffset, s.size]), [[7, 0]])
  assert.deepEqual(pairs(log), [])
  assert.equal(log.producers.size, 0)
  assert.equal(log.lastStableOffset, 7)
  assert.deepEqual(starts, [7])
  assert.deepEqual(fs.readdirSync(dir).filter((n) => /\.(log|snapshot|txnindex)$/.test(n)), ['00000000000000000007.log'])
  assert.equal(fs.readFileSync(path.join(dir, LEADER_EPOCH_CHECKPOINT), 'utf8'), '0\n0\n')
  assert.equal((await log.read(7, 1000)).batches.length, 0)
  await assert.rejects(log.read(3, 1000), (e: unknown) => e instanceof KafkaError && e.error.name === 'OFFSET_OUT_OF_RANGE')
  // the follower continues from the leader's batches at 7
  const fromLeader = (await leader.read(7, 1 << 20)).batches
  await log.appendAsFollower(fromLeader).done
  assert.equal(log.logEndOffset, 9)
  assert.deepEqual(pairs(log), [[5, 7]])
  await log.close()
  const again = await open(dir, { segmentBytes: 300 })
  assert.equal(again.logStartOffset, 7)
  assert.equal(again.logEndOffset, 9)
  assert.deepEqual(pairs(again), [[5, 7]])
  // a base offset equal to an old segment's: the old file is gone, the new one is fresh
  await again.truncateFullyAndStartAt(7)
  assert.equal(again.size, 0)
  await again.appendAsFollower(fromLeader).done
  await sameBytes(again, again) // readable
  assert.deepEqual(decode(await readAll(again)).map((r) => r.offset), [7, 8])
  await again.close()
  await leader.close()
})

test('the epoch checkpoint across restarts: kept, rebuilt when missing or torn, repaired after a crash', async () => {
  const dir = tmp()
  const log = await leaderWithEpochs(dir, { segmentBytes: 300 })
  await log.close()
  const file = path.join(dir, LEADER_EPOCH_CHECKPOINT)
  const expected: Array<[number, number]> = [[0, 0], [2, 3], [5, 7]]
  let again = await open(dir, { segmentBytes: 300 })
  assert.deepEqual(pairs(again), expected)
  await again.close()
  // missing (a log written before epochs were tracked): rebuilt from the batch headers
  fs.unlinkSync(file)
  again = await open(dir, { segmentBytes: 300 }, { cleanShutdown: true })
  assert.deepEqual(pairs(again), expected)
  assert.equal(fs.readFileSync(file, 'utf8'), '0\n3\n0 0\n2 3\n5 7\n', 'written back on open')
  await again.close()
  // torn
  fs.writeFileSync(file, '0\n3\n0 0\n2 ')
  again = await open(dir, { segmentBytes: 300 }, { cleanShutdown: true })
  assert.deepEqual(pairs(again), expected)
  await again.close()
  // entries beyond the log end (the log lost its tail in a crash): dropped on open
  fs.writeFileSync(file, '0\n4\n0 0\n2 3\n5 7\n9 100\n')
  again = await open(dir, { segmentBytes: 300 })
  assert.deepEqual(pairs(again), expected)
  // the log start offset moved (the checkpoint file given by the manager): the first epoch starts there
  await again.close()
  again = await open(dir, { segmentBytes: 300 }, { logStartOffset: 4 })
  assert.deepEqual(pairs(again), [[2, 4], [5, 7]])
  await again.close()
})

test('a log whose batches carry no epoch gets an empty checkpoint once rebuilt: later opens do not scan', async () => {
  const dir = tmp()
  const log = await open(dir, { segmentBytes: 300 })
  for (let i = 0; i < 8; i++) await log.append([batch(-1, 2)]).done
  assert.ok(log.segments.length >= 3)
  await log.close()
  const file = path.join(dir, LEADER_EPOCH_CHECKPOINT)
  assert.ok(!fs.existsSync(file), 'nothing to write yet')
  let reads = 0
  const counting: StorageFs = { ...nodeFs, read: (fd, buf, off, len, pos) => (reads++, nodeFs.read(fd, buf, off, len, pos)) }
  let again = await open(dir, { segmentBytes: 300 }, { fs: counting, cleanShutdown: true })
  const scanning = reads
  assert.equal(fs.readFileSync(file, 'utf8'), '0\n0\n')
  await again.close()
  reads = 0
  again = await open(dir, { segmentBytes: 300 }, { fs: counting, cleanShutdown: true })
  // only the active segment's recovery check reads; the scan read every segment
  assert.ok(reads + 2 <= scanning, `${reads} reads, ${scanning} when scanning`)
  assert.equal(again.epochs.size, 0)
  await again.close()
})

test('a crash that loses the newest checkpoint entry: restored from the headers after the newest snapshot', async () => {
  const dir = tmp()
  const log = await open(dir, { segmentBytes: 300 })
  for (let i = 0; i < 6; i++) await log.append([batch(1, 2)]).done
  await log.flush()
  await new Promise((r) => setTimeout(r, 20)) // roll snapshots land
  assert.ok(fs.readdirSync(dir).some((n) => n.endsWith('.snapshot')))
  await log.append([batch(4, 2)]).done
  await log.append([batch(4, 1)]).done
  await log.flush()
  await log.epochs.flush()
  assert.deepEqual(pairs(log), [[1, 0], [4, 12]])
  await new Promise((r) => setTimeout(r, 20))
  const snapshots = fs.readdirSync(dir).filter((n) => n.endsWith('.snapshot')).map((n) => Number(n.slice(0, 20)))
  assert.ok(Math.max(...snapshots) <= 12, `the newest snapshot is below the lost entry: ${snapshots.join()}`)
  // as if the process died before the checkpoint write of (4, 12) reached the disk
  const file = path.join(dir, LEADER_EPOCH_CHECKPOINT)
  fs.writeFileSync(file, '0\n1\n1 0\n')
  // the old instance is abandoned (kill -9); the directory is opened again
  const again = await open(dir, { segmentBytes: 300 })
  assert.deepEqual(pairs(again), [[1, 0], [4, 12]])
  await again.epochs.flush()
  assert.equal(fs.readFileSync(file, 'utf8'), '0\n2\n1 0\n4 12\n')
  await again.close()
})

test('the log start offset moving (DeleteRecords, retention) truncates the epoch cache from the start', async () => {
  let now = Date.now() // the batches carry real timestamps
  const log = await open(tmp(), { segmentBytes: 300, retentionMs: 1000 }, { now: () => now })
  for (let i = 0; i < 8; i++) {
    const b = batch(i < 4 ? 1 : 3, 2)
    await log.append([b]).done
  }
  assert.deepEqual(pairs(log), [[1, 0], [3, 8]])
  await log.deleteRecordsBefore(5)
  assert.deepEqual(pairs(log), [[1, 5], [3, 8]])
  await log.deleteRecordsBefore(9)
  assert.deepEqual(pairs(log), [[3, 9]])
  now += 10_000 // every segment is past retention; the active one rolls and goes too
  await log.append([batch(3, 1)]).done
  await log.applyRetention()
  assert.ok(log.logStartOffset > 9)
  assert.deepEqual(pairs(log), [[3, log.logStartOffset]])
  await log.close()
})

test('idempotent producer state on the follower matches the leader: the follower finds the leader batch as a duplicate', async () => {
  const leader = await open(tmp(), { segmentBytes: 500 })
  for (let i = 0; i < 7; i++) {
    await leader.append([batch(2, 3, { producerId: 42, producerEpoch: 1, baseSequence: i * 3 })]).done
    await leader.append([batch(2, 1, { producerId: 43, producerEpoch: 0, baseSequence: i })]).done
  }
  const follower = await open(tmp(), { segmentBytes: 500 })
  await replicate(leader, follower, 700)
  await sameBytes(leader, follower)
  const strip = (log: PartitionLog) => log.producers.activeProducers().sort((a, b) => a.producerId - b.producerId)
  assert.deepEqual(strip(follower), strip(leader))
  assert.deepEqual(follower.producers.get(42)?.batches, leader.producers.get(42)?.batches)
  // the leader's last batch of 42 is a duplicate on the follower too, with its offsets
  const dup = follower.producers.check(42, 1, 18, 20)
  assert.deepEqual(dup, leader.producers.check(42, 1, 18, 20))
  assert.ok(dup && dup.firstOffset === 24 && dup.lastOffset === 26, JSON.stringify(dup))
  assert.equal(code(() => follower.producers.check(42, 1, 22, 22)), 'OUT_OF_ORDER_SEQUENCE_NUMBER')
  assert.equal(code(() => follower.producers.check(42, 0, 21, 21)), 'INVALID_PRODUCER_EPOCH')
  assert.equal(follower.producers.check(42, 1, 21, 23), undefined, 'the next sequence is accepted')
  await leader.close()
  await follower.close()
})

test('transactions copied to a follower: same last stable offset, aborted transactions and transaction index', async () => {
  const leader = await open(tmp(), { segmentBytes: 600 })
  const txn = (pid: number, s: number, n: number) => batch(1, n, { producerId: pid, producerEpoch: 0, baseSequence: s, transactional: true })
  await leader.append([batch(1, 1)]).done // 0
  await leader.append([txn(7, 0, 2)]).done // 1-2
  await leader.append([txn(8, 0, 1)]).done // 3
  await leader.appendControl({ producerId: 7, producerEpoch: 0, type: 'ABORT', coordinatorEpoch: 3 }).done // 4
  await leader.append([txn(9, 0, 2)]).done // 5-6
  await leader.append([txn(8, 1, 2)]).done // 7-8
  await leader.appendControl({ producerId: 8, producerEpoch: 0, type: 'COMMIT', coordinatorEpoch: 3 }).done // 9
  await leader.append([txn(10, 0, 1)]).done // 10
  await leader.appendControl({ producerId: 10, producerEpoch: 0, type: 'ABORT', coordinatorEpoch: 3 }).done // 11
  // producer 9 still open
  assert.equal(leader.lastStableOffset, 5)
  const fdir = tmp()
  const follower = await open(fdir, { segmentBytes: 600 })
  let lsos = 0
  // one batch at a time: the LSO follows along
  while (follower.logEndOffset < leader.logEndOffset) {
    const r = await leader.read(follower.logEndOffset, 1)
    await follower.appendAsFollower(r.batches).done
    lsos++
  }
  assert.equal(lsos, 9)
  await sameBytes(leader, follower)
  assert.equal(follower.lastStableOffset, leader.lastStableOffset)
  assert.equal(follower.lastStableOffset, 5)
  for (const [from, to] of [[0, 12], [0, 5], [5, 12], [11, 12], [0, 1]]) {
    assert.deepEqual(follower.abortedTransactions(from, to), leader.abortedTransactions(from, to), `[${from}, ${to})`)
  }
  assert.deepEqual(follower.abortedTransactions(0, 12), [{ producerId: 7, firstOffset: 1 }, { producerId: 10, firstOffset: 10 }])
  // the producer 9 transaction ends on the leader, and then on the follower
  await leader.appendControl({ producerId: 9, producerEpoch: 0, type: 'ABORT', coordinatorEpoch: 3 }).done
  await replicate(leader, follower)
  assert.equal(follower.lastStableOffset, 13)
  assert.deepEqual(follower.abortedTransactions(0, 13), leader.abortedTransactions(0, 13))
  await follower.close()
  assert.ok(fs.readdirSync(fdir).some((n) => n.endsWith('.txnindex')))
  const again = await open(fdir, { segmentBytes: 600 })
  assert.equal(again.lastStableOffset, 13)
  assert.deepEqual(again.abortedTransactions(0, 13), leader.abortedTransactions(0, 13))
  await again.close()
  await leader.close()
})

test('a failed follower write rolls back the log end and the epochs it introduced', async () => {
  let fail = false
  const f: StorageFs = { ...nodeFs, writev: (fd, bufs, pos) => (fail ? Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' })) : nodeFs.writev(fd, bufs, pos)) }
  const leader = await leaderWithEpochs(tmp())
  const all = await readAll(leader)
  const follower = await open(tmp(), {}, { fs: f })
  await follower.appendAsFollower(all.slice(0, 2)).done
  fail = true
  const r = follower.appendAsFollower(all.slice(2))
  assert.deepEqual(pairs(follower), [[0, 0], [2, 3], [5, 7]])
  await assert.rejects(r.done, (e: unknown) => e instanceof KafkaError && e.error.name === 'KAFKA_STORAGE_ERROR')
  fail = false
  assert.equal(follower.logEndOffset, 3)
  // epoch 2 starting at the log end stays (it has not written yet, like a new leader's); 5 goes
  assert.deepEqual(pairs(follower), [[0, 0], [2, 3]])
  await follower.appendAsFollower(all.slice(2)).done
  await sameBytes(leader, follower)
  assert.deepEqual(pairs(follower), pairs(leader))
  await follower.close()
  await leader.close()
})
