// The replication admin APIs on a real 3-broker cluster in this process: a controller (embedded
// metadata log) serving brokers over its TCP RPC, and three brokers in racks az-1..az-3 that
// reach it through `controller.endpoints`, exactly as `fjord controller` and `fjord broker`
// processes would. Clients:
// - KafkaJS 2.2.4: createTopics with replicaAssignment, fetchTopicMetadata, produce (acks=all)
//   and read, alterPartitionReassignments, listPartitionReassignments, deleteTopicRecords,
//   describeCluster (its Metadata-based one);
// - @platformatic/kafka 1.35 through its protocol functions: DescribeCluster v0/v1,
//   AlterPartitionReassignments v0 (cancel with null replicas), ListPartitionReassignments v0;
// - kcat -L -J: brokers, leaders, replicas and ISR;
// - our TestClient for what none of them sends: ElectLeaders (no installed client has it:
//   KafkaJS, @platformatic/kafka 1.35, confluent-kafka-python 1.7 and kafka-python 2.0.2 lack
//   it), OffsetForLeaderEpoch, DeleteRecords to a follower, DescribeLogDirs, ApiVersions.
// The controller runs without periodic preferred elections, so leadership moves only when a test
// moves it.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import { Kafka, logLevel } from 'kafkajs'
import {
  Connection,
  alterPartitionReassignmentsV0,
  describeClusterV0,
  describeClusterV1,
  listPartitionReassignmentsV0,
} from '@platformatic/kafka'
import { Broker } from '../broker.js'
import { resolveSettings } from '../config.js'
import { Controller } from '../../controller/controller.js'
import { EmbeddedBackend } from '../../controller/embedded-backend.js'
import { ControllerServer } from '../../controller/rpc.js'
import type { PartitionState } from '../../controller/records.js'
import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { UUID_ZERO } from '../../protocol/schema.js'
import { TestClient } from './test-client.js'
import { kafkajsConsume } from '../../../test/helpers/node-clients.js'
import { KCAT, runProcess } from '../../../test/helpers/clients.js'

const E = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [k, v.code])) as Record<keyof typeof ErrorCode, number>
const PREFERRED = 0
const UNCLEAN = 1

// ---- the cluster ------------------------------------------------------------------------------------

let dir: string
let controller: Controller
let server: ControllerServer
const brokers = new Map<number, Broker>()
const log: Logger = pino({ level: process.env.FJORD_TEST_LOG ?? 'silent' }, pino.destination(2))
let counter = 0
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`

async function startBroker(id: number): Promise<Broker> {
  const broker = await Broker.open(resolveSettings({
    'broker.id': String(id),
    listeners: '127.0.0.1:0',
    'log.dirs': join(dir, `broker-${id}`),
    'broker.rack': `az-${((id - 1) % 3) + 1}`,
    'controller.endpoints': `127.0.0.1:${server.port}`,
    'auto.create.topics.enable': 'false',
    'replica.fetch.wait.max.ms': '200',
    'controlled.shutdown.timeout.ms': '5000',
  }, {}), log.child({ broker: id }))
  await broker.listen()
  brokers.set(id, broker)
  return broker
}

async function stopBroker(id: number): Promise<void> {
  const b = brokers.get(id)
  brokers.delete(id)
  await b?.close()
}

function broker(id: number): Broker {
  const b = brokers.get(id)
  assert.ok(b, `broker ${id} runs`)
  return b
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fjord-replication-admin-'))
  const candidate = { id: 0, endpoint: '' }
  controller = new Controller(new EmbeddedBackend(join(dir, 'controller', 'metadata')), candidate, {
    sessionTimeoutMs: 6000, disconnectGraceMs: 300, leaderImbalanceCheckIntervalMs: 0, log: log.child({ component: 'controller' }),
  })
  server = new ControllerServer(controller, async () => null)
  await server.listen('127.0.0.1', 0)
  candidate.endpoint = `127.0.0.1:${server.port}`
  await controller.activate()
  await Promise.all([1, 2, 3].map((id) => startBroker(id)))
})

after(async () => {
  for (const id of [...brokers.keys()]) await stopBroker(id)
  await server?.close()
  await controller?.close()
  rmSync(dir, { recursive: true, force: true })
})

// ---- helpers -------------------------------------------------------------------------------------------

async function waitFor<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined && v !== null && v !== false) return v
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

function state(topic: string, partition = 0): PartitionState {
  const s = controller.image.partitionState(topic, partition)
  assert.ok(s, `${topic}-${partition} exists`)
  return s
}

/** Waits until every running broker's image shows the controller's state of the partition, and its leader leads it. */
async function settled(topic: string, partition = 0): Promise<PartitionState> {
  return waitFor(`${topic}-${partition} settled on every broker`, () => {
    const s = state(topic, partition)
    for (const b of brokers.values()) {
      const mine = b.link.image.partitionState(topic, partition)
      if (!mine || mine.partitionEpoch !== s.partitionEpoch) return false
    }
    const leader = s.leader >= 0 ? brokers.get(s.leader)?.replicas.get(topic, partition) : undefined
    return leader?.isLeader && leader.state.leaderEpoch === s.leaderEpoch ? s : false
  })
}

function kafka(id = 1): Kafka {
  return new Kafka({ clientId: 'replication-admin-test', brokers: [broker(id).bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 } })
}

async function withAdmin<T>(fn: (admin: ReturnType<Kafka['admin']>) => Promise<T>, id = 1): Promise<T> {
  const admin = kafka(id).admin()
  await admin.connect()
  try {
    return await fn(admin)
  } finally {
    await admin.disconnect()
  }
}

async function createTopic(topic: string, replicas: number[][]): Promise<void> {
  await withAdmin((admin) => admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, replicaAssignment: replicas.map((r, partition) => ({ partition, replicas: r })) }],
  }))
  for (let p = 0; p < replicas.length; p++) await settled(topic, p)
}

async function produce(topic: string, values: string[], partition = 0): Promise<void> {
  const producer = kafka().producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value, partition })) })
  } finally {
    await producer.disconnect()
  }
}

/**
 * Reads every partition from the leader. A new leader's high watermark starts at what it knew as
 * a follower and reaches the committed end once its followers fetch; wait for that first.
 */
async function consumeValues(topic: string, committed: number[] = []): Promise<string[]> {
  for (const [partition, end] of committed.entries()) {
    await waitFor(`${topic}-${partition}: high watermark ${end} on the leader`, () => {
      const s = state(topic, partition)
      const r = brokers.get(s.leader)?.replicas.get(topic, partition)
      return r?.isLeader && r.hw >= end
    })
  }
  const records = await kafkajsConsume(kafka(), topic, { timeoutMs: 30_000 })
  return records.map((r) => r.value!.toString())
}

function raw<T>(id: number, fn: (c: TestClient) => Promise<T>): Promise<T> {
  return TestClient.with(broker(id), fn)
}

function elect(id: number, version: number, electionType: number, topicPartitions: { topic: string; partitions: number[] }[] | null) {
  return raw(id, (c) => c.request(Apis.ElectLeaders, version, { electionType, topicPartitions, timeoutMs: 10_000 }))
}

async function platformatic<T>(id: number, fn: (c: Connection) => Promise<T>): Promise<T> {
  const b = broker(id)
  const c = new Connection('replication-admin-test')
  await c.connect(b.host, b.port)
  try {
    return await fn(c)
  } finally {
    await c.close()
  }
}

/** @platformatic/kafka's protocol functions throw on any error code; the decoded response rides on the error. */
async function answer<T>(p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (err) {
    const response = (err as { response?: T }).response
    if (response === undefined) throw err
    return response
  }
}

const values = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

// ---- tests -------------------------------------------------------------------------------------------

test('ApiVersions advertises ElectLeaders, AlterPartitionReassignments and ListPartitionReassignments', async () => {
  const res = await raw(1, (c) => c.request(Apis.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' }))
  const byKey = new Map(res.apiKeys.map((k) => [k.apiKey, [k.minVersion, k.maxVersion]]))
  assert.deepEqual(byKey.get(Apis.ElectLeaders.key), [0, 2])
  assert.deepEqual(byKey.get(Apis.AlterPartitionReassignments.key), [0, 0])
  assert.deepEqual(byKey.get(Apis.ListPartitionReassignments.key), [0, 0])
  assert.deepEqual(byKey.get(Apis.OffsetForLeaderEpoch.key), [0, 4])
  assert.ok(byKey.has(Apis.DeleteRecords.key) && byKey.has(Apis.DescribeCluster.key) && byKey.has(Apis.DescribeLogDirs.key))
})

test('KafkaJS creates RF 3 topics (explicit and rack-aware); every broker, KafkaJS and kcat -L show 3 replicas in sync', async () => {
  const explicit = unique('explicit')
  const spread = unique('spread')
  await createTopic(explicit, [[1, 2, 3], [2, 3, 1], [3, 1, 2]])
  await withAdmin((admin) => admin.createTopics({ waitForLeaders: true, topics: [{ topic: spread, numPartitions: 6, replicationFactor: 3 }] }))
  for (let p = 0; p < 6; p++) await settled(spread, p)

  const meta = await withAdmin((admin) => admin.fetchTopicMetadata({ topics: [explicit, spread] }), 2)
  const byName = new Map(meta.topics.map((t) => [t.name, t.partitions.sort((a, b) => a.partitionId - b.partitionId)]))
  assert.deepEqual(byName.get(explicit)!.map((p) => [p.partitionId, p.leader, p.replicas, p.isr]), [
    [0, 1, [1, 2, 3], [1, 2, 3]], [1, 2, [2, 3, 1], [2, 3, 1]], [2, 3, [3, 1, 2], [3, 1, 2]],
  ])
  const leaders = new Map<number, number>()
  for (const p of byName.get(spread)!) {
    assert.equal(p.replicas.length, 3)
    assert.deepEqual([...p.isr].sort(), [...p.replicas].sort(), `${spread}-${p.partitionId} in sync`)
    assert.equal(p.leader, p.replicas[0])
    leaders.set(p.leader, (leaders.get(p.leader) ?? 0) + 1)
  }
  assert.deepEqual([...leaders.values()], [2, 2, 2], 'rack-aware assignment spreads leaders over the 3 brokers')

  // every broker answers the same Metadata, with the live brokers and their racks
  for (const id of [1, 2, 3]) {
    const res = await raw(id, (c) => c.request(Apis.Metadata, 12, { topics: [{ topicId: UUID_ZERO, name: explicit }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }))
    assert.deepEqual(res.brokers.map((b) => [b.nodeId, b.rack]).sort(), [[1, 'az-1'], [2, 'az-2'], [3, 'az-3']])
    assert.deepEqual(res.topics[0]!.partitions.map((p) => [p.partitionIndex, p.leaderId, p.leaderEpoch, p.replicaNodes, p.isrNodes]), [
      [0, 1, 0, [1, 2, 3], [1, 2, 3]], [1, 2, 0, [2, 3, 1], [2, 3, 1]], [2, 3, 0, [3, 1, 2], [3, 1, 2]],
    ], `broker ${id}`)
  }

  // kcat (librdkafka) -L
  const out = await runProcess(KCAT, ['-L', '-J', '-b', broker(3).bootstrap, '-t', explicit], { timeoutMs: 30_000 })
  const listing = JSON.parse(out.stdout.toString('utf8')) as {
    brokers: { id: number; name: string }[]
    topics: { topic: string; partitions: { partition: number; leader: number; replicas: { id: number }[]; isrs: { id: number }[] }[] }[]
  }
  assert.deepEqual(listing.brokers.map((b) => [b.id, b.name]).sort(), [1, 2, 3].map((id) => [id, broker(id).bootstrap]))
  const t = listing.topics.find((x) => x.topic === explicit)!
  assert.deepEqual(t.partitions.sort((a, b) => a.partition - b.partition).map((p) => [p.partition, p.leader, p.replicas.map((r) => r.id), p.isrs.map((r) => r.id)]), [
    [0, 1, [1, 2, 3], [1, 2, 3]], [1, 2, [2, 3, 1], [2, 3, 1]], [2, 3, [3, 1, 2], [3, 1, 2]],
  ])
})

test('DescribeCluster (@platformatic/kafka v0 and v1 on every broker, KafkaJS): live brokers with racks, a live broker as controller, the cluster id', async () => {
  for (const id of [1, 2, 3]) {
    for (const api of [describeClusterV0, describeClusterV1]) {
      const res = await platformatic(id, (c) => api.api.async(c, false, 1))
      assert.equal(res.errorCode, 0)
      assert.equal(res.clusterId, controller.image.clusterId)
      assert.equal(res.controllerId, id, 'the answering broker forwards admin requests')
      assert.deepEqual(res.brokers.map((b) => [b.brokerId, b.host, b.port, b.rack]).sort(),
        [1, 2, 3].map((b) => [b, broker(b).host, broker(b).port, `az-${b}`]))
    }
  }
  const cluster = await withAdmin((admin) => admin.describeCluster())
  assert.equal(cluster.clusterId, controller.image.clusterId)
  assert.deepEqual(cluster.brokers.map((b) => b.nodeId).sort(), [1, 2, 3])
  assert.ok([1, 2, 3].includes(cluster.controller!))
})

test('OffsetForLeaderEpoch with real epochs: only the leader answers, from its epoch cache, fencing on currentLeaderEpoch', async () => {
  const topic = unique('epochs')
  const solo = unique('epochs-solo')
  await createTopic(topic, [[1, 2, 3]])
  await createTopic(solo, [[3]])
  await produce(topic, values('e0', 5))
  // move leadership to broker 2: make it the preferred replica (an order-only reassignment), then elect
  await withAdmin((admin) => admin.alterPartitionReassignments({ topics: [{ topic, partitionAssignment: [{ partition: 0, replicas: [2, 1, 3] }] }] }))
  const elected = await elect(3, 2, PREFERRED, [{ topic, partitions: [0] }])
  assert.deepEqual(elected.replicaElectionResults, [{ topic, partitionResult: [{ partitionId: 0, errorCode: 0, errorMessage: null }] }])
  const s = await settled(topic)
  assert.equal(s.leader, 2)
  assert.equal(s.leaderEpoch, 1)
  await produce(topic, values('e1', 3))
  await waitFor('followers caught up', () => [1, 3].every((id) => broker(id).partition(topic, 0)?.logEndOffset === 8))

  const ask = (id: number, version: number, partitions: { partition: number; currentLeaderEpoch: number; leaderEpoch: number }[], name = topic) =>
    raw(id, (c) => c.request(Apis.OffsetForLeaderEpoch, version, { replicaId: -1, topics: [{ topic: name, partitions }] }))
      .then((r) => r.topics[0]!.partitions.map((p) => [p.errorCode, p.leaderEpoch, p.endOffset]))

  assert.deepEqual(await ask(2, 4, [
    { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }, // epoch 0 ends where epoch 1 began
    { partition: 0, currentLeaderEpoch: 1, leaderEpoch: 1 }, // the current epoch ends at the log end
    { partition: 0, currentLeaderEpoch: 1, leaderEpoch: 7 }, // newer than any: undefined
    { partition: 0, currentLeaderEpoch: 1, leaderEpoch: -1 },
    { partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 }, // the client's leader epoch is old
    { partition: 0, currentLeaderEpoch: 2, leaderEpoch: 0 }, // ... or from the future
    { partition: 5, currentLeaderEpoch: -1, leaderEpoch: 0 },
  ]), [[0, 0, 5], [0, 1, 8], [0, -1, -1], [0, -1, -1], [E.FENCED_LEADER_EPOCH, -1, -1], [E.UNKNOWN_LEADER_EPOCH, -1, -1], [E.UNKNOWN_TOPIC_OR_PARTITION, -1, -1]])
  // v0/v1 carry no currentLeaderEpoch: no fencing; v0 answers no epoch
  assert.deepEqual(await ask(2, 1, [{ partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 }]), [[0, 0, 5]])
  assert.deepEqual(await ask(2, 0, [{ partition: 0, currentLeaderEpoch: 0, leaderEpoch: 1 }]), [[0, -1, 8]])
  // a follower: NOT_LEADER_OR_FOLLOWER, after the epoch check (Kafka's order)
  assert.deepEqual(await ask(1, 4, [
    { partition: 0, currentLeaderEpoch: 1, leaderEpoch: 0 },
    { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 },
    { partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 },
  ]), [[E.NOT_LEADER_OR_FOLLOWER, -1, -1], [E.NOT_LEADER_OR_FOLLOWER, -1, -1], [E.FENCED_LEADER_EPOCH, -1, -1]])
  // no replica here, or no such topic
  assert.deepEqual(await ask(1, 4, [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }], solo), [[E.NOT_LEADER_OR_FOLLOWER, -1, -1]])
  assert.deepEqual(await ask(1, 4, [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }], unique('missing')), [[E.UNKNOWN_TOPIC_OR_PARTITION, -1, -1]])

  // the data written under both epochs reads back in order
  assert.deepEqual(await consumeValues(topic, [8]), [...values('e0', 5), ...values('e1', 3)])
})

test('ElectLeaders v0-v2 (our client): preferred after a reorder, not needed, unclean on a led partition, unknown partitions, all partitions', async () => {
  const topic = unique('elect')
  await createTopic(topic, [[1, 2, 3], [2, 3, 1], [3, 1, 2]])
  await produce(topic, values('x', 3), 1)
  // partitions 0 and 1 get a new preferred replica; their leaders stay until an election
  await withAdmin((admin) => admin.alterPartitionReassignments({ topics: [{ topic, partitionAssignment: [
    { partition: 0, replicas: [3, 1, 2] }, { partition: 1, replicas: [1, 2, 3] },
  ] }] }))
  await settled(topic, 0)
  assert.deepEqual([state(topic, 0).leader, state(topic, 1).leader], [1, 2])

  // v0: no election type (preferred)
  const v0 = await elect(2, 0, UNCLEAN, [{ topic, partitions: [0, 2, 7] }, { topic: unique('missing'), partitions: [0] }])
  assert.deepEqual(v0.replicaElectionResults.map((t) => [t.topic === topic, t.partitionResult.map((p) => [p.partitionId, p.errorCode])]), [
    [true, [[0, 0], [2, E.ELECTION_NOT_NEEDED], [7, E.UNKNOWN_TOPIC_OR_PARTITION]]], [false, [[0, E.UNKNOWN_TOPIC_OR_PARTITION]]],
  ])
  assert.equal(v0.errorCode, 0)
  assert.equal((await settled(topic, 0)).leader, 3)
  assert.equal(state(topic, 0).leaderEpoch, 1)

  // v1/v2 unclean: partitions with a leader need no election
  for (const version of [1, 2]) {
    const res = await elect(1, version, UNCLEAN, [{ topic, partitions: [0, 1, 1] }])
    assert.equal(res.errorCode, 0)
    assert.deepEqual(res.replicaElectionResults, [{ topic, partitionResult: [
      { partitionId: 0, errorCode: E.ELECTION_NOT_NEEDED, errorMessage: 'The partition has a leader.' },
      { partitionId: 1, errorCode: E.ELECTION_NOT_NEEDED, errorMessage: 'The partition has a leader.' },
    ] }])
  }
  const bad = await elect(1, 2, 7, [{ topic, partitions: [0] }])
  assert.equal(bad.errorCode, E.INVALID_REQUEST)
  assert.deepEqual(bad.replicaElectionResults[0]!.partitionResult.map((p) => p.errorCode), [E.INVALID_REQUEST])

  // null: every partition of the cluster; only those that needed an election are answered
  const all = await elect(3, 2, PREFERRED, null)
  assert.equal(all.errorCode, 0)
  assert.deepEqual(all.replicaElectionResults.map((t) => [t.topic, t.partitionResult.map((p) => [p.partitionId, p.errorCode])]), [[topic, [[1, 0]]]])
  const s1 = await settled(topic, 1)
  assert.deepEqual([s1.leader, s1.leaderEpoch], [1, 1])
  assert.deepEqual((await elect(3, 2, PREFERRED, null)).replicaElectionResults, [])

  // clients follow: the data written before the election reads back from the new leader
  assert.deepEqual(await consumeValues(topic, [0, 3, 0]), values('x', 3))
})

test('KafkaJS reassigns [1,2] to [2,3]: the data moves, the old replica is deleted, the new replicas serve it', async () => {
  const topic = unique('moving')
  await createTopic(topic, [[1, 2]])
  await produce(topic, values('m', 100))
  await withAdmin((admin) => admin.alterPartitionReassignments({ topics: [{ topic, partitionAssignment: [{ partition: 0, replicas: [2, 3] }] }] }))
  const done = await waitFor('reassignment complete', () => {
    const s = state(topic)
    return s.addingReplicas.length === 0 && s.removingReplicas.length === 0 && s.replicas.join() === '2,3' ? s : false
  })
  assert.deepEqual(done.isr, [2, 3])
  assert.equal(done.leader, 2, 'leadership moved into the target')
  await settled(topic)
  assert.deepEqual(await withAdmin((admin) => admin.listPartitionReassignments({ topics: [{ topic, partitions: [0] }] })), { topics: [] })
  await waitFor('broker 1 deleted its replica', () => broker(1).partition(topic, 0) === undefined)
  assert.equal(broker(3).partition(topic, 0)!.logEndOffset, 100)
  const meta = await withAdmin((admin) => admin.fetchTopicMetadata({ topics: [topic] }), 3)
  assert.deepEqual(meta.topics[0]!.partitions.map((p) => [p.leader, p.replicas, p.isr]), [[2, [2, 3], [2, 3]]])
  assert.deepEqual(await consumeValues(topic, [100]), values('m', 100))

  // broker 2 writes under its epoch; then broker 3 leads: reorder, then a preferred election; reads and writes go to it
  await produce(topic, values('k', 5))
  await withAdmin((admin) => admin.alterPartitionReassignments({ topics: [{ topic, partitionAssignment: [{ partition: 0, replicas: [3, 2] }] }] }))
  const res = await elect(2, 1, PREFERRED, [{ topic, partitions: [0] }])
  assert.equal(res.replicaElectionResults[0]!.partitionResult[0]!.errorCode, 0)
  assert.equal((await settled(topic)).leader, 3)
  await produce(topic, values('n', 10))
  assert.deepEqual(await consumeValues(topic, [115]), [...values('m', 100), ...values('k', 5), ...values('n', 10)])
  await waitFor('broker 2 caught up', () => broker(2).partition(topic, 0)?.logEndOffset === 115)
})

test('a follower that led an epoch without writing to it catches up with the next leader', async () => {
  const topic = unique('empty-epoch')
  await createTopic(topic, [[1, 2, 3]])
  await produce(topic, values('a', 5))
  // broker 2 leads epoch 1 and writes nothing; broker 3 then leads epoch 2
  for (const [order, leader] of [[[2, 1, 3], 2], [[3, 1, 2], 3]] as const) {
    await withAdmin((admin) => admin.alterPartitionReassignments({ topics: [{ topic, partitionAssignment: [{ partition: 0, replicas: [...order] }] }] }))
    await elect(1, 2, PREFERRED, [{ topic, partitions: [0] }])
    assert.equal((await settled(topic)).leader, leader)
  }
  const producer = kafka().producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    await producer.send({ topic, acks: 1, messages: [{ value: 'b', partition: 0 }] })
  } finally {
    await producer.disconnect()
  }
  await waitFor('broker 2 caught up with broker 3', () => broker(2).partition(topic, 0)?.logEndOffset === 6, 5000)
})

test('a reassignment to a stopped broker stays in flight: listed (KafkaJS, @platformatic/kafka), cancelled, completed once the broker is back', async () => {
  const topic = unique('inflight')
  await createTopic(topic, [[1, 2]])
  await produce(topic, values('i', 20))
  // broker 4 registers, then stops: registered but fenced
  await startBroker(4)
  await waitFor('broker 4 registered', () => controller.image.brokers.get(4)?.fenced === false)
  await stopBroker(4)
  await waitFor('broker 4 fenced', () => controller.image.brokers.get(4)?.fenced === true)

  const alter = (id: number, partitions: { partitionIndex: number; replicas: number[] | null }[], name = topic) =>
    platformatic(id, (c) => answer(alterPartitionReassignmentsV0.api.async(c, 10_000, false, [{ name, partitions: partitions as never }])))
  const list = (id: number, topics: { name: string; partitionIndexes: number[] }[] | null) =>
    platformatic(id, (c) => answer(listPartitionReassignmentsV0.api.async(c, 10_000, topics as never)))

  const started = await alter(2, [{ partitionIndex: 0, replicas: [2, 4] }])
  assert.equal(started.errorCode, 0)
  assert.deepEqual(started.responses, [{ name: topic, partitions: [{ partitionIndex: 0, errorCode: 0, errorMessage: null }] }])
  const s = await settled(topic)
  assert.deepEqual([s.replicas, s.addingReplicas, s.removingReplicas, s.isr, s.leader], [[2, 4, 1], [4], [1], [1, 2], 1])

  const listedKafkaJS = await withAdmin((admin) => admin.listPartitionReassignments({ topics: [{ topic, partitions: [0] }] }), 3)
  // (KafkaJS answers { name, partitions: [{ partition, ... }] }, not the shape its typings declare)
  assert.deepEqual(listedKafkaJS as unknown, { topics: [{ name: topic, partitions: [{ partition: 0, replicas: [2, 4, 1], addingReplicas: [4], removingReplicas: [1] }] }] })
  const listedAll = await list(1, null)
  assert.equal(listedAll.errorCode, 0)
  assert.deepEqual(listedAll.topics.filter((t) => t.name === topic), [{ name: topic, partitions: [{ partitionIndex: 0, replicas: [2, 4, 1], addingReplicas: [4], removingReplicas: [1] }] }])
  assert.deepEqual((await list(1, [{ name: topic, partitionIndexes: [1, 2] }, { name: unique('missing'), partitionIndexes: [0] }])).topics, [], 'nothing else moves')

  // errors, per partition
  const errors = await alter(3, [
    { partitionIndex: 0, replicas: [2, 2] }, { partitionIndex: 0, replicas: [2, 9] }, { partitionIndex: 0, replicas: [] }, { partitionIndex: 3, replicas: [1, 2] },
  ])
  assert.deepEqual(errors.responses[0]!.partitions.map((p) => p.errorCode), [E.INVALID_REPLICA_ASSIGNMENT, E.INVALID_REPLICA_ASSIGNMENT, E.INVALID_REPLICA_ASSIGNMENT, E.UNKNOWN_TOPIC_OR_PARTITION])
  const unknown = await alter(3, [{ partitionIndex: 0, replicas: [1, 2] }], unique('missing'))
  assert.deepEqual(unknown.responses[0]!.partitions.map((p) => p.errorCode), [E.UNKNOWN_TOPIC_OR_PARTITION])

  // cancel (null replicas): the added replica goes, the ones being removed stay (in the order the
  // reassignment gave them, as Kafka's PartitionReassignmentRevert leaves them); a second cancel
  // finds nothing to cancel
  assert.deepEqual((await alter(1, [{ partitionIndex: 0, replicas: null }])).responses[0]!.partitions.map((p) => p.errorCode), [0])
  const back = await settled(topic)
  assert.deepEqual([back.replicas, back.addingReplicas, back.removingReplicas, back.isr, back.leader], [[2, 1], [], [], [1, 2], 1])
  assert.deepEqual((await list(2, null)).topics.filter((t) => t.name === topic), [])
  assert.deepEqual((await alter(1, [{ partitionIndex: 0, replicas: null }])).responses[0]!.partitions.map((p) => p.errorCode), [E.NO_REASSIGNMENT_IN_PROGRESS])

  // again, and this time broker 4 comes back: it copies the log, joins the ISR, and the move completes
  assert.equal((await alter(2, [{ partitionIndex: 0, replicas: [2, 4] }])).errorCode, 0)
  await startBroker(4)
  const done = await waitFor('reassignment complete', () => {
    const x = state(topic)
    return x.addingReplicas.length === 0 && x.replicas.join() === '2,4' ? x : false
  })
  assert.deepEqual([done.isr, done.leader], [[2, 4], 2])
  await settled(topic)
  assert.equal(broker(4).partition(topic, 0)!.logEndOffset, 20)
  await waitFor('broker 1 deleted its replica', () => broker(1).partition(topic, 0) === undefined)
  assert.deepEqual(await consumeValues(topic, [20]), values('i', 20))
  await stopBroker(4)
})

test('DeleteRecords on the leader (KafkaJS; our client at a follower) moves every replica\'s log start; DescribeLogDirs reports each replica', async () => {
  const topic = unique('trim')
  await createTopic(topic, [[1, 2, 3]])
  await produce(topic, values('d', 10))
  await waitFor('followers caught up', () => [2, 3].every((id) => broker(id).replicas.get(topic, 0)?.hw === 10))

  // DescribeLogDirs on each broker: the same bytes on every replica, no lag
  const sizes: number[] = []
  for (const id of [1, 2, 3]) {
    const res = await raw(id, (c) => c.request(Apis.DescribeLogDirs, 4, { topics: [{ topic, partitions: [0, 1] }] }))
    const parts = res.results[0]!.topics.find((t) => t.name === topic)!.partitions
    assert.deepEqual(parts.map((p) => [p.partitionIndex, p.offsetLag, p.isFutureKey]), [[0, 0, false]], `broker ${id}`)
    sizes.push(Number(parts[0]!.partitionSize))
  }
  assert.ok(sizes[0]! > 0)
  assert.deepEqual(sizes, [sizes[0], sizes[0], sizes[0]], 'followers hold the leader\'s batches byte for byte')

  await withAdmin(async (admin) => {
    await admin.fetchTopicMetadata({ topics: [topic] })
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '4' }] })
    assert.equal((await admin.fetchTopicOffsets(topic))[0]!.low, '4')
  })
  const del = (id: number, offset: number) => raw(id, (c) => c.request(Apis.DeleteRecords, 2, { topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset }] }], timeoutMs: 5000 }))
    .then((r) => r.topics[0]!.partitions.map((p) => [p.errorCode, p.lowWatermark]))
  assert.deepEqual(await del(2, 6), [[E.NOT_LEADER_OR_FOLLOWER, -1]], 'a follower refuses')
  assert.deepEqual(await del(1, 11), [[E.OFFSET_OUT_OF_RANGE, -1]], 'beyond the high watermark')
  assert.deepEqual(await del(1, -2), [[E.OFFSET_OUT_OF_RANGE, -1]])
  assert.deepEqual(await del(1, 2), [[0, 4]], 'never backwards')
  assert.deepEqual(await del(1, -1), [[0, 10]], '-1: the high watermark')
  await waitFor('followers moved their log start', () => [2, 3].every((id) => broker(id).partition(topic, 0)?.logStartOffset === 10))
  await produce(topic, ['after'])
  assert.deepEqual(await consumeValues(topic, [11]), ['after'])
})
