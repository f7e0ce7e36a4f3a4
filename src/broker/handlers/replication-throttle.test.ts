// The replication throttles as dynamic broker configs, on a real 3-broker cluster in this process
// (a controller serving brokers over its TCP RPC, as in replication-admin.test.ts):
// follower.replication.throttled.rate set live by IncrementalAlterConfigs (our client) and
// leader.replication.throttled.rate by AlterConfigs (KafkaJS), both described as
// DYNAMIC_BROKER_CONFIG, a bad value refused, and each one slowing down the copy a reassignment
// makes to a new replica. Timing is checked coarsely: a generous lower bound on a throttled copy,
// and the same copy unthrottled taking well under half of it.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import kafkajs from 'kafkajs'
import { Broker } from '../broker.js'
import { resolveSettings } from '../config.js'
import { Controller } from '../../controller/controller.js'
import { EmbeddedBackend } from '../../controller/embedded-backend.js'
import { ControllerServer } from '../../controller/rpc.js'
import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { TestClient } from './test-client.js'

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs
type Kafka = InstanceType<typeof Kafka>
const FOLLOWER = 'follower.replication.throttled.rate'
const LEADER = 'leader.replication.throttled.rate'
const DYNAMIC_BROKER_CONFIG = 2
const DEFAULT_CONFIG = 5
const SET = 0
const DELETE = 1
const RATE = 256 * 1024 // bytes/s
const RECORD = 'x'.repeat(16 * 1024)
const RECORDS = 96 // 1.5 MiB
const FETCH_BYTES = 128 * 1024 // replica.fetch.max.bytes: the one fetch a quota lets through at once

let dir: string
let controller: Controller
let server: ControllerServer
const brokers = new Map<number, Broker>()
const log: Logger = pino({ level: process.env.FJORD_TEST_LOG ?? 'silent' }, pino.destination(2))

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fjord-throttle-'))
  const candidate = { id: 0, endpoint: '' }
  controller = new Controller(new EmbeddedBackend(join(dir, 'controller', 'metadata')), candidate, {
    sessionTimeoutMs: 6000, disconnectGraceMs: 300, leaderImbalanceCheckIntervalMs: 0, log: log.child({ component: 'controller' }),
  })
  server = new ControllerServer(controller, async () => null)
  await server.listen('127.0.0.1', 0)
  candidate.endpoint = `127.0.0.1:${server.port}`
  await controller.activate()
  await Promise.all([1, 2, 3].map(async (id) => {
    const b = await Broker.open(resolveSettings({
      'broker.id': String(id),
      listeners: '127.0.0.1:0',
      'log.dirs': join(dir, `broker-${id}`),
      'controller.endpoints': `127.0.0.1:${server.port}`,
      'auto.create.topics.enable': 'false',
      'replica.fetch.wait.max.ms': '200',
      'replica.fetch.max.bytes': String(FETCH_BYTES),
      'controlled.shutdown.timeout.ms': '5000',
    }, {}), log.child({ broker: id }))
    await b.listen()
    brokers.set(id, b)
  }))
})

after(async () => {
  for (const b of brokers.values()) await b.close()
  await server?.close()
  await controller?.close()
  rmSync(dir, { recursive: true, force: true })
})

function broker(id: number): Broker {
  return brokers.get(id)!
}

function raw<T>(id: number, fn: (c: TestClient) => Promise<T>): Promise<T> {
  return TestClient.with(broker(id), fn)
}

function kafka(): Kafka {
  return new Kafka({ clientId: 'throttle-test', brokers: [broker(1).bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 } })
}

async function incremental(id: number, configs: { name: string; configOperation: number; value: string | null }[]) {
  const res = await raw(id, (c) => c.request(Apis.IncrementalAlterConfigs, 0, { resources: [{ resourceType: 4, resourceName: String(id), configs }], validateOnly: false }))
  return res.responses[0]!
}

async function describe(id: number, names: string[]): Promise<Map<string, { value: string | null; source: number }>> {
  const res = await raw(id, (c) => c.request(Apis.DescribeConfigs, 1, { resources: [{ resourceType: 4, resourceName: String(id), configurationKeys: names }], includeSynonyms: false }))
  assert.equal(res.results[0]!.errorCode, 0)
  return new Map(res.results[0]!.configs.map((c) => [c.name, { value: c.value, source: c.configSource }]))
}

async function waitFor<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined && v !== null && v !== false) return v
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Creates `topic` on [1] with RECORDS records; returns its end offset. */
async function filledTopic(topic: string): Promise<number> {
  const admin = kafka().admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, replicaAssignment: [{ partition: 0, replicas: [1] }] }] })
  await admin.disconnect()
  const producer = kafka().producer({ allowAutoTopicCreation: false })
  await producer.connect()
  for (let i = 0; i < RECORDS; i += 16) await producer.send({ topic, acks: -1, messages: Array.from({ length: 16 }, () => ({ value: RECORD })) })
  await producer.disconnect()
  return RECORDS
}

/** Reassigns `topic`-0 to `replicas` and returns the ms until the new replica is in sync and the move complete. */
async function timedMove(topic: string, replicas: number[]): Promise<number> {
  const admin = kafka().admin()
  await admin.connect()
  const t0 = Date.now()
  try {
    await admin.alterPartitionReassignments({ topics: [{ topic, partitionAssignment: [{ partition: 0, replicas }] }] })
  } finally {
    await admin.disconnect()
  }
  await waitFor(`${topic} moved to [${replicas}]`, () => {
    const s = controller.image.partitionState(topic, 0)
    return s && s.addingReplicas.length === 0 && s.replicas.join() === replicas.join() && replicas.every((r) => s.isr.includes(r))
  })
  return Date.now() - t0
}

test('follower.replication.throttled.rate: set live (IncrementalAlterConfigs), described as DYNAMIC_BROKER_CONFIG, slows a reassignment\'s copy, removed (DELETE)', async () => {
  const bad = await incremental(2, [{ name: FOLLOWER, configOperation: SET, value: '-5' }])
  assert.equal(bad.errorCode, ErrorCode.INVALID_CONFIG.code, bad.errorMessage ?? '')
  assert.equal((await incremental(2, [{ name: FOLLOWER, configOperation: SET, value: String(RATE) }])).errorCode, 0)
  assert.equal(broker(2).replicas.followerQuota.rate, RATE)
  assert.deepEqual((await describe(2, [FOLLOWER])).get(FOLLOWER), { value: String(RATE), source: DYNAMIC_BROKER_CONFIG })

  const topic = `throttled-follower-${process.pid}`
  await filledTopic(topic)
  const ms = await timedMove(topic, [1, 2])
  const bytes = RECORDS * RECORD.length
  // At RATE, after the first fetch the quota lets through: (1.5 MiB - 128 KiB) / 256 KiB/s ≈ 5.5 s.
  const floor = ((bytes - FETCH_BYTES) / RATE) * 1000 * 0.6
  console.log(`# ${bytes} bytes to a new replica at ${RATE} B/s (follower throttle): ${ms} ms`)
  assert.ok(ms >= floor, `the throttled copy took ${ms} ms, expected at least ${Math.round(floor)} ms`)
  assert.equal(broker(2).partition(topic, 0)!.logEndOffset, RECORDS)

  assert.equal((await incremental(2, [{ name: FOLLOWER, configOperation: DELETE, value: null }])).errorCode, 0)
  assert.equal(broker(2).replicas.followerQuota.rate, 0)
  assert.deepEqual((await describe(2, [FOLLOWER])).get(FOLLOWER), { value: '0', source: DEFAULT_CONFIG })

  // The same copy unthrottled, to broker 3.
  const free = await timedMove(topic, [1, 2, 3])
  console.log(`# the same copy unthrottled: ${free} ms`)
  assert.ok(free < ms / 2, `unthrottled ${free} ms vs throttled ${ms} ms`)
})

test('leader.replication.throttled.rate: set live (KafkaJS AlterConfigs), slows what the leader serves a new replica, removed', async () => {
  const admin = kafka().admin()
  await admin.connect()
  try {
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: LEADER, value: String(RATE) }] }] })
    const r = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configNames: [LEADER, FOLLOWER] }] })
    const entries = new Map(r.resources[0]!.configEntries.map((e) => [e.configName, e]))
    assert.equal(entries.get(LEADER)!.configValue, String(RATE))
    assert.equal(entries.get(LEADER)!.configSource, DYNAMIC_BROKER_CONFIG)
    assert.equal(entries.get(LEADER)!.readOnly, false)
    assert.equal(entries.get(FOLLOWER)!.configSource, DEFAULT_CONFIG)
  } finally {
    await admin.disconnect()
  }
  assert.equal(broker(1).replicas.leaderQuota.rate, RATE)

  const topic = `throttled-leader-${process.pid}`
  await filledTopic(topic)
  const ms = await timedMove(topic, [1, 3])
  const floor = ((RECORDS * RECORD.length - FETCH_BYTES) / RATE) * 1000 * 0.6
  console.log(`# ${RECORDS * RECORD.length} bytes to a new replica at ${RATE} B/s (leader throttle): ${ms} ms`)
  assert.ok(ms >= floor, `the throttled copy took ${ms} ms, expected at least ${Math.round(floor)} ms`)

  // AlterConfigs replaces the layer: an empty set removes the throttle.
  const admin2 = kafka().admin()
  await admin2.connect()
  try {
    await admin2.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [] }] })
  } finally {
    await admin2.disconnect()
  }
  assert.equal(broker(1).replicas.leaderQuota.rate, 0)
  assert.deepEqual((await describe(1, [LEADER])).get(LEADER), { value: '0', source: DEFAULT_CONFIG })
  const free = await timedMove(topic, [1, 3, 2])
  console.log(`# the same copy unthrottled: ${free} ms`)
  assert.ok(free < ms / 2, `unthrottled ${free} ms vs throttled ${ms} ms`)
})
