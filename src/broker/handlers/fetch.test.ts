// Fetch's size rules (KIP-74), through our own test client: the first partition with data
// returns at least one whole batch even above its limit; later partitions respect their
// partition limit and the response's maxBytes; long polls return when data arrives.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { Broker } from '../broker.js'
import { resolveSettings } from '../config.js'
import { Apis } from '../../protocol/apis.js'
import { buildBatchSync } from '../../protocol/records.js'
import { TestClient } from './test-client.js'

let broker: Broker
let dir: string
let client: TestClient

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fjord-fetch-'))
  broker = await Broker.open(resolveSettings({ listeners: '127.0.0.1:0', 'log.dirs': dir, 'group.initial.rebalance.delay.ms': '0' }, {}), pino({ level: 'silent' }))
  await broker.listen()
  client = await TestClient.connect('127.0.0.1', broker.port)
  await client.request(Apis.CreateTopics, 4, { topics: [{ name: 'sizes', numPartitions: 3, replicationFactor: 1 }], timeoutMs: 5000 })
  for (const partition of [0, 1, 2]) {
    const records = buildBatchSync({ records: [{ key: null, value: Buffer.alloc(3000, partition) }] })
    const res = await client.request(Apis.Produce, 7, { acks: 1, timeoutMs: 5000, topicData: [{ name: 'sizes', partitionData: [{ index: partition, records }] }] })
    assert.equal(res.responses[0]!.partitionResponses[0]!.errorCode, 0)
  }
})

after(async () => {
  client.close()
  await broker.close()
  rmSync(dir, { recursive: true, force: true })
})

function fetch(partitionMaxBytes: number, maxBytes: number) {
  return client.request(Apis.Fetch, 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'sizes', partitions: [0, 1, 2].map((partition) => ({ partition, fetchOffset: 0, partitionMaxBytes })) }],
    forgottenTopicsData: [], rackId: '',
  })
}

const sizes = (res: Awaited<ReturnType<typeof fetch>>) => res.responses[0]!.partitions.map((p) => p.records?.length ?? 0)

test('only the first partition may exceed its limit', async () => {
  const [first, second, third] = sizes(await fetch(1000, 1 << 20))
  assert.ok(first! > 3000)
  assert.equal(second, 0)
  assert.equal(third, 0)
})

test('partitions within their limits all answer, up to the response maxBytes', async () => {
  assert.ok(sizes(await fetch(1 << 20, 1 << 20)).every((n) => n > 3000))
  // the response limit lets the first batch through, then stops
  const limited = sizes(await fetch(1 << 20, 4000))
  assert.ok(limited[0]! > 3000)
  assert.deepEqual(limited.slice(1), [0, 0])
})

test('a long poll returns as soon as a produce lands', async () => {
  const pending = client.request(Apis.Fetch, 11, {
    replicaId: -1, maxWaitMs: 30_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'sizes', partitions: [{ partition: 0, fetchOffset: 1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  })
  const producer = await TestClient.connect('127.0.0.1', broker.port)
  const records = buildBatchSync({ records: [{ key: null, value: Buffer.from('late') }] })
  await producer.request(Apis.Produce, 7, { acks: 1, timeoutMs: 5000, topicData: [{ name: 'sizes', partitionData: [{ index: 0, records }] }] })
  producer.close()
  const res = await pending
  const p = res.responses[0]!.partitions[0]!
  assert.equal(p.errorCode, 0)
  assert.equal(p.highWatermark, 2)
  assert.ok((p.records?.length ?? 0) > 0)
})
