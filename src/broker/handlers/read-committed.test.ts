// read_committed through the broker: transactional batches and markers written to a partition
// (markers with log.appendControl, as the transaction coordinator does), then Fetch and
// ListOffsets at both isolation levels, DescribeProducers, and kcat (librdkafka) with
// isolation.level=read_committed skipping the aborted records.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { pino } from 'pino'
import { Broker } from '../broker.js'
import { resolveSettings } from '../config.js'
import { Apis } from '../../protocol/apis.js'
import { buildBatchSync } from '../../protocol/records.js'
import { baseOffsetOf, lastOffsetOf } from '../../protocol/record-batch.js'
import type { PartitionLog } from '../../storage/index.js'
import { TestClient } from './test-client.js'

const run = promisify(execFile)
const TOPIC = 'txn'

let broker: Broker
let dir: string
let client: TestClient
let log: PartitionLog

async function append(batch: Buffer): Promise<void> {
  const r = log.append([batch])
  await r.done
  broker.notifyAppend(TOPIC, 0, batch.length)
}

async function marker(producerId: number, type: 'COMMIT' | 'ABORT'): Promise<number> {
  const r = log.appendControl({ producerId, producerEpoch: 0, type, coordinatorEpoch: 0 })
  await r.done
  broker.notifyAppend(TOPIC, 0, 0)
  return r.baseOffset
}

const txn = (producerId: number, values: string[]) =>
  buildBatchSync({ records: values.map((v) => ({ key: null, value: v })), producerId, producerEpoch: 0, baseSequence: 0, transactional: true })
const plain = (v: string) => buildBatchSync({ records: [{ key: null, value: v }] })

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fjord-read-committed-'))
  broker = await Broker.open(resolveSettings({ listeners: '127.0.0.1:0', 'log.dirs': dir, 'group.initial.rebalance.delay.ms': '0' }, {}), pino({ level: 'silent' }))
  await broker.listen()
  client = await TestClient.connect('127.0.0.1', broker.port)
  await client.request(Apis.CreateTopics, 4, { topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 })
  log = broker.partition(TOPIC, 0)!
  await append(plain('p0')) // 0
  await append(txn(1000, ['aborted-1', 'aborted-2'])) // 1-2
  await append(txn(2000, ['committed-1'])) // 3
  assert.equal(await marker(1000, 'ABORT'), 4)
  assert.equal(await marker(2000, 'COMMIT'), 5)
  await append(plain('p1')) // 6
  await append(txn(3000, ['open-1'])) // 7, left open
})

after(async () => {
  client.close()
  await broker.close()
  rmSync(dir, { recursive: true, force: true })
})

function fetch(isolationLevel: number, fetchOffset = 0) {
  return client.request(Apis.Fetch, 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  })
}

function lastOffsetIn(records: Buffer[] | Buffer | null): number {
  // the records field decodes to one buffer of concatenated batches
  const buf = Array.isArray(records) ? Buffer.concat(records) : records ?? Buffer.alloc(0)
  let at = 0
  let last = -1
  while (at + 12 <= buf.length) {
    const b = buf.subarray(at)
    last = lastOffsetOf(b)
    at += b.readInt32BE(8) + 12
  }
  return last
}

test('read_committed stops at the last stable offset and lists the aborted transactions', async () => {
  const res = await fetch(1)
  const p = res.responses[0]!.partitions[0]!
  assert.equal(p.errorCode, 0)
  assert.equal(p.highWatermark, 8)
  assert.equal(p.lastStableOffset, 7)
  assert.deepEqual(p.abortedTransactions, [{ producerId: 1000, firstOffset: 1 }])
  assert.equal(lastOffsetIn(p.records), 6)
  // from after the aborted transaction's marker: nothing aborted in range
  const later = (await fetch(1, 5)).responses[0]!.partitions[0]!
  assert.deepEqual(later.abortedTransactions, [])
  assert.equal(baseOffsetOf(Buffer.concat([later.records ?? Buffer.alloc(0)].flat())), 5)
  // at the LSO: no records yet
  const atLso = (await fetch(1, 7)).responses[0]!.partitions[0]!
  assert.equal(atLso.errorCode, 0)
  assert.equal(lastOffsetIn(atLso.records), -1)
})

test('read_uncommitted reads to the high watermark, reports the LSO, no aborted list', async () => {
  const p = (await fetch(0)).responses[0]!.partitions[0]!
  assert.equal(p.highWatermark, 8)
  assert.equal(p.lastStableOffset, 7)
  assert.equal(p.abortedTransactions, null)
  assert.equal(lastOffsetIn(p.records), 7)
})

test('ListOffsets LATEST is the LSO under read_committed', async () => {
  const latest = async (isolationLevel: number) =>
    (await client.request(Apis.ListOffsets, 5, { replicaId: -1, isolationLevel, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }] })).topics[0]!.partitions[0]!.offset
  assert.equal(await latest(1), 7)
  assert.equal(await latest(0), 8)
})

test('DescribeProducers lists the partition producers and the open transaction', async () => {
  const res = await client.request(Apis.DescribeProducers, 0, { topics: [{ name: TOPIC, partitionIndexes: [0, 9] }] })
  const [p0, p9] = res.topics[0]!.partitions
  assert.equal(p0!.errorCode, 0)
  assert.deepEqual(p0!.activeProducers.map((p) => [p.producerId, p.producerEpoch, p.lastSequence, p.currentTxnStartOffset]), [
    [1000, 0, 1, -1],
    [2000, 0, 0, -1],
    [3000, 0, 0, 7],
  ])
  assert.ok(p0!.activeProducers.every((p) => p.lastTimestamp > 0))
  assert.equal(p9!.errorCode, 3) // UNKNOWN_TOPIC_OR_PARTITION
})

async function kcat(isolation: string): Promise<string[]> {
  const { stdout } = await run('kcat', ['-C', '-b', `127.0.0.1:${broker.port}`, '-t', TOPIC, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%o %s\\n', '-X', `isolation.level=${isolation}`], { timeout: 20_000 })
  return stdout.split('\n').filter((l) => l.length > 0)
}

test('kcat with isolation.level=read_committed skips aborted records and waits for the open transaction', { timeout: 60_000 }, async () => {
  assert.deepEqual(await kcat('read_committed'), ['0 p0', '3 committed-1', '6 p1'])
  assert.deepEqual(await kcat('read_uncommitted'), ['0 p0', '1 aborted-1', '2 aborted-2', '3 committed-1', '6 p1', '7 open-1'])
  assert.equal(await marker(3000, 'COMMIT'), 8)
  assert.deepEqual(await kcat('read_committed'), ['0 p0', '3 committed-1', '6 p1', '7 open-1'])
})
