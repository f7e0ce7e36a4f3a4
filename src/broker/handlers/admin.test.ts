// The admin API handlers, driven over TCP by real clients: KafkaJS 2.2.4 (CreateTopics v3,
// DeleteTopics v1, CreatePartitions v1, DescribeConfigs v2, AlterConfigs v1, DeleteRecords v1)
// and @platformatic/kafka 1.35 (CreateTopics v7, DeleteTopics v6, CreatePartitions v3,
// DescribeConfigs v4, AlterConfigs v2, IncrementalAlterConfigs v1, DeleteRecords v2,
// DescribeLogDirs v4). What neither client sends (old and new versions, OffsetForLeaderEpoch,
// DescribeCluster, ids in DeleteTopics, malformed entries) goes through our own TestClient.

import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, isAbsolute } from 'node:path'
import { pino } from 'pino'
import { Kafka, logLevel, type Admin as KafkaJSAdmin } from 'kafkajs'
import { Admin as PlatformaticAdmin } from '@platformatic/kafka'
import { Broker } from '../broker.js'
import { resolveSettings } from '../config.js'
import { Apis } from '../../protocol/apis.js'
import { ErrorCode } from '../../protocol/errors.js'
import { UUID_ZERO } from '../../protocol/schema.js'
import { TestClient, codesOf, rejectsWith } from './test-client.js'

const E = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [k, v.code])) as Record<keyof typeof ErrorCode, number>
const TOPIC = 2
const BROKER = 4
const BROKER_LOGGER = 8
const Source = { DYNAMIC_TOPIC_CONFIG: 1, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 }

let broker: Broker
let dir: string
let kafka: Kafka
let kjs: KafkaJSAdmin
let plt: PlatformaticAdmin
let raw: TestClient

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fjord-admin-'))
  broker = await Broker.open(resolveSettings({
    listeners: '127.0.0.1:0',
    'log.dirs': dir,
    'broker.rack': 'rack-a',
    'log.retention.ms': '3600000', // explicitly set: STATIC_BROKER_CONFIG for retention.ms
  }, {}), pino({ level: 'silent' }))
  await broker.listen()
  kafka = new Kafka({ clientId: 'admin-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } })
  kjs = kafka.admin({ retry: { retries: 0 } })
  await kjs.connect()
  plt = new PlatformaticAdmin({ clientId: 'admin-test-plt', bootstrapBrokers: [broker.bootstrap], retries: 0 })
  raw = await TestClient.connect(broker.host, broker.port)
})

after(async () => {
  await raw?.close()
  await plt?.close()
  await kjs?.disconnect()
  await broker?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The broker's error messages carried by a @platformatic/kafka error. */
function messagesOf(err: unknown): string[] {
  const e = err as { serverErrorMessage?: string | null; errors?: unknown[] } | null
  if (!e || typeof e !== 'object') return []
  return [...(e.serverErrorMessage ? [e.serverErrorMessage] : []), ...(e.errors ?? []).flatMap(messagesOf)]
}

let n = 0
const unique = (base: string) => `${base}-${process.pid}-${++n}`

async function rawCreate(version: number, topics: { name: string; numPartitions?: number; replicationFactor?: number; assignments?: { partitionIndex: number; brokerIds: number[] }[]; configs?: { name: string; value: string | null }[] }[], validateOnly = false) {
  return raw.request(Apis.CreateTopics, version, {
    topics: topics.map((t) => ({ numPartitions: 1, replicationFactor: 1, assignments: [], configs: [], ...t })),
    timeoutMs: 5000,
    validateOnly,
  })
}

async function describeTopic(name: string, version = 3) {
  const res = await raw.request(Apis.DescribeConfigs, version, {
    resources: [{ resourceType: TOPIC, resourceName: name, configurationKeys: null }], includeSynonyms: true, includeDocumentation: false,
  })
  const r = res.results[0]!
  assert.equal(r.errorCode, 0, r.errorMessage ?? '')
  return new Map(r.configs.map((c) => [c.name, c]))
}

describe('CreateTopics', () => {
  test('KafkaJS (v3): creates with configs, reports an existing topic, validates only', async () => {
    const name = unique('kjs-create')
    assert.equal(await kjs.createTopics({ topics: [{ topic: name, numPartitions: 3, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] }), true)
    const t = broker.metadata.topic(name)!
    assert.equal(t.partitions, 3)
    assert.deepEqual(t.configs, { 'cleanup.policy': 'compact' })
    const md = await kjs.fetchTopicMetadata({ topics: [name] })
    assert.equal(md.topics[0]!.partitions.length, 3)
    // KafkaJS turns TOPIC_ALREADY_EXISTS into `false`
    assert.equal(await kjs.createTopics({ topics: [{ topic: name }] }), false)

    const dry = unique('kjs-dry')
    await kjs.createTopics({ validateOnly: true, topics: [{ topic: dry, numPartitions: 2 }], waitForLeaders: false })
    assert.equal(broker.metadata.topic(dry), undefined)
    assert.equal(broker.partition(dry, 0), undefined)
  })

  test('KafkaJS: invalid name, bad config value, unknown config, replication factor, partitions, assignments', async () => {
    await rejectsWith(kjs.createTopics({ topics: [{ topic: 'bad/name' }] }), E.INVALID_TOPIC_EXCEPTION)
    await rejectsWith(kjs.createTopics({ topics: [{ topic: unique('kjs-bad-config'), configEntries: [{ name: 'retention.ms', value: 'soon' }] }] }), E.INVALID_CONFIG)
    // KafkaJS shows its own text for the code; the broker's message names the key
    const [bad] = (await rawCreate(4, [{ name: unique('raw-bad-config'), configs: [{ name: 'retention.ms', value: 'soon' }] }])).topics
    assert.equal(bad!.errorCode, E.INVALID_CONFIG)
    assert.match(bad!.errorMessage!, /retention\.ms/)
    await rejectsWith(kjs.createTopics({ topics: [{ topic: unique('kjs-unknown-config'), configEntries: [{ name: 'no.such.config', value: '1' }] }] }), E.INVALID_CONFIG)
    await rejectsWith(kjs.createTopics({ topics: [{ topic: unique('kjs-rf'), replicationFactor: 3 }] }), E.INVALID_REPLICATION_FACTOR)
    await rejectsWith(kjs.createTopics({ topics: [{ topic: unique('kjs-parts'), numPartitions: 0 }] }), E.INVALID_PARTITIONS)
    await rejectsWith(kjs.createTopics({ topics: [{ topic: unique('kjs-assign'), replicaAssignment: [{ partition: 0, replicas: [7] }] }] }), E.INVALID_REPLICA_ASSIGNMENT)
    const assigned = unique('kjs-assigned')
    assert.equal(await kjs.createTopics({ topics: [{ topic: assigned, replicaAssignment: [{ partition: 0, replicas: [0] }, { partition: 1, replicas: [0] }] }] }), true)
    assert.equal(broker.metadata.topic(assigned)!.partitions, 2)
  })

  test('@platformatic/kafka (v7): topic id, partitions, replicas and effective configs in the answer', async () => {
    const name = unique('plt-create')
    const [created] = await plt.createTopics({ topics: [name], partitions: 2, replicas: 1, configs: [{ name: 'retention.ms', value: '1000' }] })
    assert.equal(created!.name, name)
    assert.equal(created!.partitions, 2)
    assert.equal(created!.replicas, 1)
    assert.equal(created!.id.replace(/-/g, ''), broker.metadata.topic(name)!.id)
    assert.equal(created!.configuration['retention.ms'], '1000')
    assert.equal(created!.configuration['cleanup.policy'], 'delete')
    await rejectsWith(plt.createTopics({ topics: [name] }), E.TOPIC_ALREADY_EXISTS)
    await rejectsWith(plt.createTopics({ topics: [unique('plt-bad')], configs: [{ name: 'segment.bytes', value: '1' }] }), E.INVALID_CONFIG)
  })

  test('our client: v0 and v5 shapes, duplicates, assignment rules, collisions, validateOnly id', async () => {
    const a = unique('raw-v0')
    const v0 = await rawCreate(0, [{ name: a }, { name: '' }])
    assert.deepEqual(v0.topics.map((t) => t.errorCode), [0, E.INVALID_TOPIC_EXCEPTION])

    const b = unique('raw-v5')
    const v5 = await rawCreate(5, [{ name: b, numPartitions: -1, replicationFactor: -1, configs: [{ name: 'retention.ms', value: '5000' }] }])
    const t5 = v5.topics[0]!
    assert.equal(t5.errorCode, 0)
    assert.equal(t5.numPartitions, 1) // num.partitions default
    assert.equal(t5.replicationFactor, 1)
    const configs = new Map(t5.configs!.map((c) => [c.name, c]))
    assert.equal(configs.get('retention.ms')!.value, '5000')
    assert.equal(configs.get('retention.ms')!.configSource, Source.DYNAMIC_TOPIC_CONFIG)
    assert.equal(configs.get('segment.bytes')!.configSource, Source.DEFAULT_CONFIG)
    assert.deepEqual([...configs.keys()], [...configs.keys()].sort())

    const dup = unique('raw-dup')
    const d = await rawCreate(7, [{ name: dup }, { name: dup }])
    assert.deepEqual(d.topics.map((t) => t.errorCode), [E.INVALID_REQUEST, E.INVALID_REQUEST])
    assert.equal(broker.metadata.topic(dup), undefined)

    const bad = await rawCreate(7, [
      { name: unique('raw-assign-rf'), numPartitions: -1, replicationFactor: 1, assignments: [{ partitionIndex: 0, brokerIds: [0] }] },
      { name: unique('raw-assign-gap'), numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 1, brokerIds: [0] }] },
      { name: unique('raw-assign-twice'), numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [0, 0] }] },
      { name: unique('raw-assign-empty'), numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [] }] },
      { name: unique('raw-null-config'), configs: [{ name: 'retention.ms', value: null }] },
      { name: unique('raw-rf-neg'), replicationFactor: -2 },
    ])
    assert.deepEqual(bad.topics.map((t) => t.errorCode),
      [E.INVALID_REQUEST, E.INVALID_REPLICA_ASSIGNMENT, E.INVALID_REPLICA_ASSIGNMENT, E.INVALID_REPLICA_ASSIGNMENT, E.INVALID_CONFIG, E.INVALID_REPLICATION_FACTOR])
    for (const t of bad.topics) assert.equal(t.numPartitions, -1)

    const base = unique('raw.collide')
    assert.equal((await rawCreate(7, [{ name: base }])).topics[0]!.errorCode, 0)
    const collide = await rawCreate(7, [{ name: base.replace('.', '_') }])
    assert.equal(collide.topics[0]!.errorCode, E.INVALID_TOPIC_EXCEPTION)
    assert.match(collide.topics[0]!.errorMessage!, /collides/)

    const dry = await rawCreate(7, [{ name: unique('raw-dry'), numPartitions: 4 }], true)
    assert.equal(dry.topics[0]!.errorCode, 0)
    assert.equal(dry.topics[0]!.topicId, UUID_ZERO)
    assert.equal(dry.topics[0]!.numPartitions, 4)
    const real = await rawCreate(7, [{ name: unique('raw-real') }])
    assert.equal(real.topics[0]!.topicId, broker.metadata.topic(real.topics[0]!.name)!.id)
  })
})

describe('DeleteTopics', () => {
  test('KafkaJS (v1): deletes, and an unknown topic is UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const name = unique('kjs-delete')
    await kjs.createTopics({ topics: [{ topic: name, numPartitions: 2 }] })
    await kjs.deleteTopics({ topics: [name] })
    assert.equal(broker.metadata.topic(name), undefined)
    assert.equal(broker.partition(name, 0), undefined)
    await rejectsWith(kjs.deleteTopics({ topics: [unique('kjs-never')] }), E.UNKNOWN_TOPIC_OR_PARTITION)
  })

  test('@platformatic/kafka (v6): by name', async () => {
    const name = unique('plt-delete')
    await plt.createTopics({ topics: [name] })
    await plt.deleteTopics({ topics: [name] })
    assert.equal(broker.metadata.topic(name), undefined)
    await rejectsWith(plt.deleteTopics({ topics: [name] }), E.UNKNOWN_TOPIC_OR_PARTITION)
  })

  test('our client (v6): by id, unknown id, neither or both, duplicates', async () => {
    const name = unique('raw-delete')
    await rawCreate(7, [{ name }])
    const id = broker.metadata.topic(name)!.id
    const missing = 'ab'.repeat(16)
    const res = await raw.request(Apis.DeleteTopics, 6, {
      topics: [{ name: null, topicId: id }, { name: null, topicId: missing }, { name: null, topicId: UUID_ZERO }, { name: 'x', topicId: missing }],
      timeoutMs: 5000,
    })
    const byCode = new Map(res.responses.map((r) => [r.errorCode === 0 ? 'ok' : `${r.errorCode}:${r.topicId}:${r.name}`, r]))
    const ok = byCode.get('ok')!
    assert.equal(ok.name, name)
    assert.equal(ok.topicId, id)
    assert.ok(byCode.has(`${E.UNKNOWN_TOPIC_ID}:${missing}:null`))
    assert.ok(byCode.has(`${E.INVALID_REQUEST}:${UUID_ZERO}:null`))
    assert.ok(byCode.has(`${E.INVALID_REQUEST}:${missing}:x`))
    assert.equal(broker.metadata.topic(name), undefined)

    const again = unique('raw-delete-dup')
    await rawCreate(7, [{ name: again }])
    const dup = await raw.request(Apis.DeleteTopics, 5, { topicNames: [again, again], timeoutMs: 5000 })
    assert.deepEqual(dup.responses.map((r) => [r.name, r.errorCode]), [[again, E.INVALID_REQUEST]])
    assert.ok(broker.metadata.topic(again))
    const v0 = await raw.request(Apis.DeleteTopics, 0, { topicNames: [again, unique('raw-missing')], timeoutMs: 5000 })
    assert.deepEqual(v0.responses.map((r) => r.errorCode), [E.UNKNOWN_TOPIC_OR_PARTITION, 0])
  })

  test('KafkaJS: the internal __consumer_offsets topic cannot be deleted', async () => {
    assert.ok(broker.metadata.topic('__consumer_offsets')?.internal)
    await rejectsWith(kjs.deleteTopics({ topics: ['__consumer_offsets'] }), E.INVALID_TOPIC_EXCEPTION)
    assert.ok(broker.metadata.topic('__consumer_offsets'))
  })
})

describe('CreatePartitions', () => {
  test('KafkaJS (v1): increases, refuses a decrease, an equal count and an unknown topic', async () => {
    const name = unique('kjs-parts')
    await kjs.createTopics({ topics: [{ topic: name, numPartitions: 1 }] })
    await kjs.createPartitions({ topicPartitions: [{ topic: name, count: 3 }] })
    assert.equal(broker.metadata.topic(name)!.partitions, 3)
    assert.ok(broker.partition(name, 2))
    await rejectsWith(kjs.createPartitions({ topicPartitions: [{ topic: name, count: 2 }] }), E.INVALID_PARTITIONS)
    await rejectsWith(kjs.createPartitions({ topicPartitions: [{ topic: name, count: 3 }] }), E.INVALID_PARTITIONS)
    await rejectsWith(kjs.createPartitions({ topicPartitions: [{ topic: unique('kjs-none'), count: 3 }] }), E.UNKNOWN_TOPIC_OR_PARTITION)
  })

  test('@platformatic/kafka (v3): assignments and validateOnly', async () => {
    const name = unique('plt-parts')
    await plt.createTopics({ topics: [name], partitions: 1 })
    await plt.createPartitions({ topics: [{ name, count: 4 }], validateOnly: true })
    assert.equal(broker.metadata.topic(name)!.partitions, 1)
    await plt.createPartitions({ topics: [{ name, count: 2, assignments: [{ brokerIds: [0] }] }] })
    assert.equal(broker.metadata.topic(name)!.partitions, 2)
    await rejectsWith(plt.createPartitions({ topics: [{ name, count: 3, assignments: [{ brokerIds: [9] }] }] }), E.INVALID_REPLICA_ASSIGNMENT)
    await rejectsWith(plt.createPartitions({ topics: [{ name, count: 4, assignments: [{ brokerIds: [0] }] }] }), E.INVALID_REPLICA_ASSIGNMENT)
    assert.equal(broker.metadata.topic(name)!.partitions, 2)
  })
})

describe('DescribeConfigs', () => {
  test('KafkaJS (v2): sources, synonyms, broker settings, unknown topic', async () => {
    const name = unique('kjs-describe')
    await kjs.createTopics({ topics: [{ topic: name, configEntries: [{ name: 'max.message.bytes', value: '2048' }] }] })
    const res = await kjs.describeConfigs({ includeSynonyms: true, resources: [{ type: TOPIC, name }, { type: BROKER, name: '0' }] })
    const topic = new Map(res.resources[0]!.configEntries.map((c) => [c.configName, c]))
    const mmb = topic.get('max.message.bytes')!
    assert.equal(mmb.configValue, '2048')
    assert.equal(mmb.configSource, Source.DYNAMIC_TOPIC_CONFIG)
    assert.deepEqual(mmb.configSynonyms.map((s) => [s.configName, s.configSource]),
      [['max.message.bytes', Source.DYNAMIC_TOPIC_CONFIG], ['message.max.bytes', Source.DEFAULT_CONFIG]])
    const retention = topic.get('retention.ms')!
    assert.equal(retention.configValue, '3600000')
    assert.equal(retention.configSource, Source.STATIC_BROKER_CONFIG)
    assert.equal(topic.get('segment.bytes')!.configSource, Source.DEFAULT_CONFIG)
    assert.equal(topic.get('segment.bytes')!.isDefault, true)
    assert.equal(topic.get('segment.bytes')!.readOnly, false)

    const brokerConfigs = new Map(res.resources[1]!.configEntries.map((c) => [c.configName, c]))
    assert.equal(brokerConfigs.get('log.retention.ms')!.configValue, '3600000')
    assert.equal(brokerConfigs.get('log.retention.ms')!.configSource, Source.STATIC_BROKER_CONFIG)
    assert.equal(brokerConfigs.get('log.retention.ms')!.readOnly, true)
    assert.equal(brokerConfigs.get('broker.rack')!.configValue, 'rack-a')
    assert.equal(brokerConfigs.get('num.partitions')!.configSource, Source.DEFAULT_CONFIG)

    const only = await kjs.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC, name, configNames: ['cleanup.policy', 'no.such'] }] })
    assert.deepEqual(only.resources[0]!.configEntries.map((c) => c.configName), ['cleanup.policy'])
    assert.deepEqual(only.resources[0]!.configEntries[0]!.configSynonyms, [])

    await rejectsWith(kjs.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC, name: unique('kjs-missing') }] }), E.UNKNOWN_TOPIC_OR_PARTITION)
  })

  test('@platformatic/kafka (v4): documentation and config types', async () => {
    const name = unique('plt-describe')
    await plt.createTopics({ topics: [name] })
    const [res] = await plt.describeConfigs({ resources: [{ resourceType: TOPIC, resourceName: name, configurationKeys: ['cleanup.policy', 'retention.ms', 'preallocate'] }], includeDocumentation: true })
    const cfg = new Map(res!.configs.map((c) => [c.name, c]))
    assert.equal(cfg.get('cleanup.policy')!.configType, 7) // LIST
    assert.equal(cfg.get('retention.ms')!.configType, 5) // LONG
    assert.equal(cfg.get('preallocate')!.configType, 1) // BOOLEAN
    assert.ok((cfg.get('retention.ms')!.documentation ?? '').length > 0)
    const [undocumented] = await plt.describeConfigs({ resources: [{ resourceType: TOPIC, resourceName: name, configurationKeys: ['retention.ms'] }], includeDocumentation: false })
    assert.equal(undocumented!.configs[0]!.documentation, null)
  })

  test('our client: v0 isDefault, invalid names, broker and logger resources', async () => {
    const name = unique('raw-describe')
    await rawCreate(7, [{ name, configs: [{ name: 'retention.bytes', value: '10' }] }])
    const res = await raw.request(Apis.DescribeConfigs, 0, {
      resources: [
        { resourceType: TOPIC, resourceName: name, configurationKeys: ['retention.bytes', 'segment.ms'] },
        { resourceType: TOPIC, resourceName: 'bad/name', configurationKeys: null },
        { resourceType: BROKER, resourceName: '', configurationKeys: null },
        { resourceType: BROKER, resourceName: '5', configurationKeys: null },
        { resourceType: BROKER_LOGGER, resourceName: '0', configurationKeys: null },
        { resourceType: 99, resourceName: 'x', configurationKeys: null },
      ],
    })
    const [topic, badName, clusterDefaults, otherBroker, loggers, unknownType] = res.results
    assert.deepEqual(topic!.configs.map((c) => [c.name, c.value, c.isDefault]), [['retention.bytes', '10', false], ['segment.ms', '604800000', true]])
    assert.equal(badName!.errorCode, E.INVALID_TOPIC_EXCEPTION)
    assert.deepEqual([clusterDefaults!.errorCode, clusterDefaults!.configs.length], [0, 0])
    assert.equal(otherBroker!.errorCode, E.INVALID_REQUEST)
    assert.deepEqual([loggers!.errorCode, loggers!.configs.length], [0, 0])
    assert.equal(unknownType!.errorCode, E.INVALID_REQUEST)
    // [] means every key, like null
    const all = await raw.request(Apis.DescribeConfigs, 4, { resources: [{ resourceType: TOPIC, resourceName: name, configurationKeys: [] }], includeSynonyms: false, includeDocumentation: false })
    assert.ok(all.results[0]!.configs.length > 20)
  })
})

describe('AlterConfigs', () => {
  test('KafkaJS (v1): replaces the overrides of a topic; bad values, unknown topics, broker resources', async () => {
    const name = unique('kjs-alter')
    await kjs.createTopics({ topics: [{ topic: name, configEntries: [{ name: 'retention.ms', value: '1000' }] }] })
    await kjs.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC, name, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] })
    assert.deepEqual(broker.metadata.topic(name)!.configs, { 'cleanup.policy': 'compact' }) // retention.ms went back to its default
    const cfg = await describeTopic(name)
    assert.equal(cfg.get('retention.ms')!.configSource, Source.STATIC_BROKER_CONFIG)
    assert.equal(cfg.get('cleanup.policy')!.value, 'compact')
    assert.equal(broker.topicSettings(name).compacted, true)

    await kjs.alterConfigs({ validateOnly: true, resources: [{ type: TOPIC, name, configEntries: [] }] })
    assert.deepEqual(broker.metadata.topic(name)!.configs, { 'cleanup.policy': 'compact' })

    await rejectsWith(kjs.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC, name, configEntries: [{ name: 'min.cleanable.dirty.ratio', value: '7' }] }] }), E.INVALID_CONFIG)
    const [bad] = (await raw.request(Apis.AlterConfigs, 1, { resources: [{ resourceType: TOPIC, resourceName: name, configs: [{ name: 'min.cleanable.dirty.ratio', value: '7' }] }], validateOnly: false })).responses
    assert.equal(bad!.errorCode, E.INVALID_CONFIG)
    assert.match(bad!.errorMessage!, /min\.cleanable\.dirty\.ratio/)
    await rejectsWith(kjs.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC, name: unique('kjs-gone'), configEntries: [{ name: 'retention.ms', value: '1' }] }] }), E.UNKNOWN_TOPIC_OR_PARTITION)
    await rejectsWith(kjs.alterConfigs({ validateOnly: false, resources: [{ type: BROKER, name: '0', configEntries: [{ name: 'log.retention.ms', value: '1' }] }] }), E.INVALID_REQUEST)
  })

  test('@platformatic/kafka (v2) and our client: duplicates, nulls, empty broker change', async () => {
    const name = unique('plt-alter')
    await plt.createTopics({ topics: [name] })
    await plt.alterConfigs({ resources: [{ resourceType: TOPIC, resourceName: name, configs: [{ name: 'segment.ms', value: '60000' }] }] })
    assert.deepEqual(broker.metadata.topic(name)!.configs, { 'segment.ms': '60000' })

    const res = await raw.request(Apis.AlterConfigs, 0, {
      resources: [
        { resourceType: TOPIC, resourceName: name, configs: [{ name: 'retention.ms', value: '1' }, { name: 'retention.ms', value: '2' }] },
        { resourceType: TOPIC, resourceName: name, configs: [] },
        { resourceType: BROKER, resourceName: '', configs: [] },
        { resourceType: TOPIC, resourceName: unique('raw-null'), configs: [{ name: 'retention.ms', value: null }] },
        { resourceType: BROKER_LOGGER, resourceName: '0', configs: [] },
      ],
      validateOnly: false,
    })
    assert.deepEqual(res.responses.map((r) => r.errorCode), [E.INVALID_REQUEST, E.INVALID_REQUEST, 0, E.INVALID_REQUEST, E.INVALID_REQUEST])
    assert.deepEqual(broker.metadata.topic(name)!.configs, { 'segment.ms': '60000' })
  })
})

describe('IncrementalAlterConfigs', () => {
  test('@platformatic/kafka (v1): SET, DELETE, APPEND, SUBTRACT', async () => {
    const name = unique('plt-incr')
    await plt.createTopics({ topics: [name], configs: [{ name: 'retention.ms', value: '1000' }] })
    await plt.incrementalAlterConfigs({ resources: [{ resourceType: TOPIC, resourceName: name, configs: [
      { name: 'segment.ms', configOperation: 0, value: '5000' },
      { name: 'cleanup.policy', configOperation: 2, value: 'compact' },
    ] }] })
    assert.deepEqual(broker.metadata.topic(name)!.configs, { 'retention.ms': '1000', 'segment.ms': '5000', 'cleanup.policy': 'delete,compact' })
    await plt.incrementalAlterConfigs({ resources: [{ resourceType: TOPIC, resourceName: name, configs: [
      { name: 'retention.ms', configOperation: 1 },
      { name: 'cleanup.policy', configOperation: 3, value: 'delete' },
    ] }] })
    assert.deepEqual(broker.metadata.topic(name)!.configs, { 'segment.ms': '5000', 'cleanup.policy': 'compact' })
    await plt.incrementalAlterConfigs({ validateOnly: true, resources: [{ resourceType: TOPIC, resourceName: name, configs: [{ name: 'segment.ms', configOperation: 1 }] }] })
    assert.equal(broker.metadata.topic(name)!.configs['segment.ms'], '5000')

    const err = await rejectsWith(plt.incrementalAlterConfigs({ resources: [{ resourceType: TOPIC, resourceName: name, configs: [{ name: 'retention.ms', configOperation: 2, value: '5' }] }] }), E.INVALID_CONFIG)
    assert.match(messagesOf(err).join(' '), /retention\.ms/)
    await rejectsWith(plt.incrementalAlterConfigs({ resources: [{ resourceType: TOPIC, resourceName: name, configs: [{ name: 'cleanup.policy', configOperation: 3, value: 'compact' }] }] }), E.INVALID_CONFIG)
    await rejectsWith(plt.incrementalAlterConfigs({ resources: [{ resourceType: TOPIC, resourceName: unique('plt-gone'), configs: [{ name: 'segment.ms', configOperation: 0, value: '1' }] }] }), E.UNKNOWN_TOPIC_OR_PARTITION)
    await rejectsWith(plt.incrementalAlterConfigs({ resources: [{ resourceType: BROKER, resourceName: '0', configs: [{ name: 'num.partitions', configOperation: 0, value: '3' }] }] }), E.INVALID_REQUEST)
  })

  test('our client (v0): per-resource outcome, loggers, unknown operations', async () => {
    const name = unique('raw-incr')
    await rawCreate(7, [{ name }])
    const res = await raw.request(Apis.IncrementalAlterConfigs, 0, {
      resources: [
        { resourceType: TOPIC, resourceName: name, configs: [{ name: 'segment.ms', configOperation: 0, value: '7000' }, { name: 'no.such', configOperation: 1, value: null }] },
        { resourceType: TOPIC, resourceName: 'bad/name', configs: [] },
        { resourceType: TOPIC, resourceName: unique('raw-x'), configs: [{ name: 'segment.ms', configOperation: 9, value: '1' }] },
        { resourceType: BROKER_LOGGER, resourceName: '0', configs: [{ name: 'kafka.server', configOperation: 0, value: 'DEBUG' }] },
        { resourceType: BROKER, resourceName: '', configs: [] },
      ],
      validateOnly: false,
    })
    assert.deepEqual(res.responses.map((r) => r.errorCode), [0, E.INVALID_TOPIC_EXCEPTION, E.INVALID_REQUEST, E.INVALID_CONFIG, 0])
    assert.deepEqual(broker.metadata.topic(name)!.configs, { 'segment.ms': '7000' })
  })
})

describe('DeleteRecords', () => {
  test('KafkaJS (v1) and @platformatic/kafka (v2): moves the log start offset; -1 is the high watermark', async () => {
    const name = unique('records')
    await kjs.createTopics({ topics: [{ topic: name, numPartitions: 1 }] })
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: name, messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) })
    await producer.disconnect()
    const log = broker.partition(name, 0)!
    assert.equal(log.highWatermark, 10)

    await kjs.fetchTopicMetadata({ topics: [name] }) // KafkaJS finds the leader only in metadata it already holds
    await kjs.deleteTopicRecords({ topic: name, partitions: [{ partition: 0, offset: '4' }] })
    assert.equal(log.logStartOffset, 4)
    const offsets = await kjs.fetchTopicOffsets(name)
    assert.equal(offsets[0]!.low, '4')
    await rejectsWith(kjs.deleteTopicRecords({ topic: name, partitions: [{ partition: 0, offset: '11' }] }), E.OFFSET_OUT_OF_RANGE)

    const [deleted] = await plt.deleteRecords({ topics: [{ name, partitions: [{ partition: 0, offset: 6n }] }] })
    assert.equal(deleted!.partitions[0]!.lowWatermark, 6n)
    const [below] = await plt.deleteRecords({ topics: [{ name, partitions: [{ partition: 0, offset: 2n }] }] })
    assert.equal(below!.partitions[0]!.lowWatermark, 6n) // never moves back
    const [all] = await plt.deleteRecords({ topics: [{ name, partitions: [{ partition: 0, offset: -1n }] }] })
    assert.equal(all!.partitions[0]!.lowWatermark, 10n)
    assert.equal(log.logStartOffset, 10)
  })

  test('our client: unknown partitions, compacted topics', async () => {
    const compacted = unique('records-compact')
    await rawCreate(7, [{ name: compacted, configs: [{ name: 'cleanup.policy', value: 'compact' }] }])
    const res = await raw.request(Apis.DeleteRecords, 0, {
      topics: [
        { name: compacted, partitions: [{ partitionIndex: 0, offset: 0 }, { partitionIndex: 3, offset: 0 }] },
        { name: unique('records-missing'), partitions: [{ partitionIndex: 0, offset: 0 }] },
      ],
      timeoutMs: 1000,
    })
    assert.deepEqual(res.topics.map((t) => t.partitions.map((p) => [p.errorCode, p.lowWatermark])),
      [[[E.POLICY_VIOLATION, -1], [E.UNKNOWN_TOPIC_OR_PARTITION, -1]], [[E.UNKNOWN_TOPIC_OR_PARTITION, -1]]])
  })
})

describe('OffsetForLeaderEpoch (our client)', () => {
  test('epoch 0 ends at the log end; other epochs are undefined; fencing on currentLeaderEpoch', async () => {
    const name = unique('epochs')
    await rawCreate(7, [{ name, numPartitions: 2 }])
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: name, messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 0 }, { value: 'c', partition: 0 }] })
    await producer.disconnect()
    for (const version of [0, 1, 2, 3, 4]) {
      const res = await raw.request(Apis.OffsetForLeaderEpoch, version, {
        replicaId: -1,
        topics: [
          { topic: name, partitions: [
            { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 },
            { partition: 1, currentLeaderEpoch: 0, leaderEpoch: 0 },
            { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 3 },
            { partition: 0, currentLeaderEpoch: -1, leaderEpoch: -1 },
            { partition: 7, currentLeaderEpoch: -1, leaderEpoch: 0 },
          ] },
        ],
      })
      const got = res.topics[0]!.partitions.map((p) => [p.errorCode, p.leaderEpoch, p.endOffset])
      const epoch = (e: number) => (version >= 1 ? e : -1) // v0 has no leaderEpoch in the answer
      assert.deepEqual(got, [[0, epoch(0), 3], [0, epoch(0), 0], [0, -1, -1], [0, -1, -1], [E.UNKNOWN_TOPIC_OR_PARTITION, -1, -1]], `v${version}`)
    }
    const fenced = await raw.request(Apis.OffsetForLeaderEpoch, 4, {
      replicaId: -1,
      topics: [{ topic: name, partitions: [{ partition: 0, currentLeaderEpoch: 1, leaderEpoch: 0 }, { partition: 0, currentLeaderEpoch: -5, leaderEpoch: 0 }] }],
    })
    assert.deepEqual(fenced.topics[0]!.partitions.map((p) => p.errorCode), [E.UNKNOWN_LEADER_EPOCH, E.FENCED_LEADER_EPOCH])
  })
})

describe('DescribeCluster (our client)', () => {
  test('v0 and v1: cluster id, controller, brokers with rack; endpoint types; authorized operations', async () => {
    for (const version of [0, 1]) {
      const res = await raw.request(Apis.DescribeCluster, version, { includeClusterAuthorizedOperations: false, endpointType: 1 })
      assert.equal(res.errorCode, 0)
      assert.equal(res.clusterId, broker.metadata.clusterId)
      assert.equal(res.controllerId, broker.brokerId)
      assert.deepEqual(res.brokers, [{ brokerId: 0, host: broker.host, port: broker.port, rack: 'rack-a' }])
      assert.equal(res.clusterAuthorizedOperations, -2147483648)
    }
    const ops = await raw.request(Apis.DescribeCluster, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 })
    assert.notEqual(ops.clusterAuthorizedOperations, -2147483648)
    assert.ok(ops.clusterAuthorizedOperations & (1 << 8)) // DESCRIBE
    const controllers = await raw.request(Apis.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 2 })
    assert.equal(controllers.errorCode, E.MISMATCHED_ENDPOINT_TYPE)
    const unknown = await raw.request(Apis.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 9 })
    assert.equal(unknown.errorCode, E.UNSUPPORTED_ENDPOINT_TYPE)
  })
})

describe('DescribeLogDirs', () => {
  test('@platformatic/kafka (v4) and our client (v0, v1): sizes per partition, disk space', async () => {
    const name = unique('logdirs')
    await plt.createTopics({ topics: [name], partitions: 2 })
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: name, messages: [{ value: 'x'.repeat(100), partition: 1 }] })
    await producer.disconnect()

    const [desc] = await plt.describeLogDirs({ topics: [{ name, partitions: [0, 1, 5] }] })
    const result = desc!.results[0]!
    assert.ok(isAbsolute(result.logDir))
    assert.ok(Number(result.totalBytes) > 0)
    assert.ok(Number(result.usableBytes) > 0)
    assert.equal(result.topics.length, 1)
    const parts = result.topics[0]!.partitions
    assert.deepEqual(parts.map((p) => p.partitionIndex), [0, 1])
    assert.equal(Number(parts[0]!.partitionSize), 0)
    assert.ok(Number(parts[1]!.partitionSize) > 100)

    const all = await raw.request(Apis.DescribeLogDirs, 1, { topics: null })
    const names = all.results[0]!.topics.map((t) => t.name)
    assert.ok(names.includes(name))
    assert.equal(all.results[0]!.totalBytes, -1) // v4+ only
    const none = await raw.request(Apis.DescribeLogDirs, 0, { topics: [] })
    assert.deepEqual(none.results[0]!.topics, [])
  })
})
