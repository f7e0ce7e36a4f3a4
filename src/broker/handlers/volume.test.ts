// volume.size.bytes end to end on an in-process broker, with real clients: KafkaJS produces until
// the volume is full (KAFKA_STORAGE_ERROR), kcat still reads every acknowledged record and is
// refused too, DescribeLogDirs (@platformatic/kafka, v4) reports the quota and what is left,
// IncrementalAlterConfigs (@platformatic/kafka) and AlterConfigs (KafkaJS, @platformatic/kafka) on the BROKER resource
// change the quota live, DescribeConfigs (KafkaJS) shows where the value comes from, and
// DeleteRecords freeing segments lets writes in again. No acknowledged record is lost.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { Kafka, logLevel, type Admin as KafkaJSAdmin, type Producer } from 'kafkajs'
import { Admin as PlatformaticAdmin } from '@platformatic/kafka'
import { Broker } from '../broker.js'
import { resolveSettings } from '../config.js'
import { codesOf, rejectsWith } from './test-client.js'

const BROKER = 4
const STORAGE_ERROR = 56
const INVALID_REQUEST = 42
const INVALID_CONFIG = 40
const Source = { DYNAMIC_BROKER_CONFIG: 2, DYNAMIC_DEFAULT_BROKER_CONFIG: 3, STATIC_BROKER_CONFIG: 4 }
const QUOTA = 300 * 1024
const TOPIC = 'volume-quota'

let broker: Broker
let dir: string
let kafka: Kafka
let kjs: KafkaJSAdmin
let plt: PlatformaticAdmin
let producer: Producer
const acked: string[] = []

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fjord-volume-'))
  broker = await Broker.open(resolveSettings({ listeners: '127.0.0.1:0', 'log.dirs': dir, 'volume.size.bytes': String(QUOTA) }, {}), pino({ level: 'silent' }))
  await broker.listen()
  kafka = new Kafka({ clientId: 'volume-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } })
  kjs = kafka.admin({ retry: { retries: 0 } })
  await kjs.connect()
  plt = new PlatformaticAdmin({ clientId: 'volume-test-plt', bootstrapBrokers: [broker.bootstrap], retries: 0 })
  producer = kafka.producer({ retry: { retries: 0 }, allowAutoTopicCreation: false })
  await producer.connect()
  await kjs.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, configEntries: [{ name: 'segment.bytes', value: String(32 * 1024) }] }] })
})

after(async () => {
  await producer?.disconnect()
  await plt?.close()
  await kjs?.disconnect()
  await broker?.close()
  rmSync(dir, { recursive: true, force: true })
})

let n = 0
/** Produces one 8 KiB record with KafkaJS (acks=all); 0 when acknowledged, else the error codes. */
async function produce(): Promise<number[]> {
  const value = `${++n}:${'v'.repeat(8 * 1024)}`
  try {
    await producer.send({ topic: TOPIC, acks: -1, messages: [{ value }] })
    acked.push(value)
    return []
  } catch (err) {
    return codesOf(err)
  }
}

function run(cmd: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
      if (code === null) reject(new Error(`${cmd} failed: ${err!.message}\n${stderr}`))
      else resolve({ code, stdout, stderr })
    })
    if (input !== undefined) child.stdin!.end(input)
  })
}

async function kcatReadAll(): Promise<string[]> {
  const r = await run('kcat', ['-C', '-b', broker.bootstrap, '-t', TOPIC, '-o', 'beginning', '-e', '-q', '-D', '\x1e'])
  assert.equal(r.code, 0, r.stderr)
  return r.stdout.split('\x1e').filter((s) => s.length > 0)
}

async function logDir() {
  const [desc] = await plt.describeLogDirs({ topics: [{ name: TOPIC, partitions: [0] }] })
  const d = desc!.results[0]!
  return { total: Number(d.totalBytes), usable: Number(d.usableBytes), size: Number(d.topics[0]!.partitions[0]!.partitionSize) }
}

async function volumeConfig() {
  const res = await kjs.describeConfigs({ includeSynonyms: true, resources: [{ type: BROKER, name: '0', configNames: ['volume.size.bytes'] }] })
  const entry = res.resources[0]!.configEntries.find((c) => c.configName === 'volume.size.bytes')!
  return entry as typeof entry & { configSource: number }
}

async function fillUp(): Promise<void> {
  let codes: number[] = []
  for (let i = 0; i < 500 && codes.length === 0; i++) codes = await produce()
  assert.ok(codes.includes(STORAGE_ERROR), `expected KAFKA_STORAGE_ERROR, got ${JSON.stringify(codes)}`)
}

test('volume.size.bytes: full → KAFKA_STORAGE_ERROR, reads go on, the quota changes live, DeleteRecords frees space', async () => {
  await fillUp()
  const full = acked.length
  assert.ok(full > 20 && full < 40, `acked ${full} records of 8 KiB under a 300 KiB quota`)
  assert.deepEqual(await produce(), [STORAGE_ERROR]) // still full
  assert.equal(broker.logs.volume.usedBytes <= QUOTA, true)

  // DescribeLogDirs v4: the quota and what is left of it.
  let d = await logDir()
  assert.equal(d.total, QUOTA)
  assert.equal(d.usable, QUOTA - broker.logs.volume.usedBytes)
  assert.ok(d.usable >= 0 && d.usable < 9 * 1024, `usable ${d.usable}`)
  assert.ok(d.size > full * 8 * 1024)

  // Reads keep working; kcat's writes are refused as well.
  assert.deepEqual(await kcatReadAll(), acked)
  const refused = await run('kcat', ['-P', '-b', broker.bootstrap, '-t', TOPIC, '-X', 'message.send.max.retries=0', '-X', 'message.timeout.ms=10000'], 'x'.repeat(16 * 1024) + '\n')
  assert.notEqual(refused.code, 0)
  assert.match(refused.stderr, /Disk error|KAFKA_STORAGE_ERROR|storage/i)

  // DescribeConfigs: the static setting.
  let cfg = await volumeConfig()
  assert.equal(cfg.configValue, String(QUOTA))
  assert.equal(cfg.configSource, Source.STATIC_BROKER_CONFIG)
  assert.equal(cfg.readOnly, false)

  // Bad values and other keys are refused; nothing changes.
  await rejectsWith(plt.incrementalAlterConfigs({ resources: [{ resourceType: BROKER, resourceName: '0', configs: [{ name: 'volume.size.bytes', configOperation: 0, value: 'lots' }] }] }), INVALID_CONFIG)
  await rejectsWith(plt.incrementalAlterConfigs({ resources: [{ resourceType: BROKER, resourceName: '0', configs: [{ name: 'volume.size.bytes', configOperation: 0, value: '-2' }] }] }), INVALID_CONFIG)
  await rejectsWith(plt.incrementalAlterConfigs({ resources: [{ resourceType: BROKER, resourceName: '0', configs: [{ name: 'volume.size.bytes', configOperation: 0, value: '1000000' }, { name: 'num.partitions', configOperation: 0, value: '3' }] }] }), INVALID_REQUEST)
  await plt.incrementalAlterConfigs({ validateOnly: true, resources: [{ resourceType: BROKER, resourceName: '0', configs: [{ name: 'volume.size.bytes', configOperation: 0, value: '1000000' }] }] })
  assert.equal(broker.logs.volume.limitBytes, QUOTA)
  assert.deepEqual(await produce(), [STORAGE_ERROR])

  // IncrementalAlterConfigs SET on this broker raises the quota at once: writes go through, no restart.
  const RAISED = 2 * 1024 * 1024
  await plt.incrementalAlterConfigs({ resources: [{ resourceType: BROKER, resourceName: '0', configs: [{ name: 'volume.size.bytes', configOperation: 0, value: String(RAISED) }] }] })
  for (let i = 0; i < 5; i++) assert.deepEqual(await produce(), [])
  d = await logDir()
  assert.equal(d.total, RAISED)
  assert.equal(d.usable, RAISED - broker.logs.volume.usedBytes)
  cfg = await volumeConfig()
  assert.equal(cfg.configValue, String(RAISED))
  assert.equal(cfg.configSource, Source.DYNAMIC_BROKER_CONFIG)

  // AlterConfigs (@platformatic/kafka, v2) on "" sets the cluster default; this broker's own value still wins.
  await plt.alterConfigs({ resources: [{ resourceType: BROKER, resourceName: '', configs: [{ name: 'volume.size.bytes', value: String(QUOTA) }] }] })
  assert.equal(broker.logs.volume.limitBytes, RAISED)
  assert.deepEqual(await produce(), [])
  const [dflt] = await plt.describeConfigs({ resources: [{ resourceType: BROKER, resourceName: '', configurationKeys: [] }], includeDocumentation: false })
  assert.deepEqual(dflt!.configs.map((c) => [c.name, c.value, c.configSource]), [['volume.size.bytes', String(QUOTA), Source.DYNAMIC_DEFAULT_BROKER_CONFIG]])
  // DELETE of this broker's value: the cluster default (300 KiB) applies, the volume is full again.
  await plt.incrementalAlterConfigs({ resources: [{ resourceType: BROKER, resourceName: '0', configs: [{ name: 'volume.size.bytes', configOperation: 1 }] }] })
  assert.equal(broker.logs.volume.limitBytes, QUOTA)
  cfg = await volumeConfig()
  assert.equal(cfg.configSource, Source.DYNAMIC_DEFAULT_BROKER_CONFIG)
  assert.deepEqual(await produce(), [STORAGE_ERROR])
  // AlterConfigs with no keys drops the default: back to the static setting (the same 300 KiB).
  await plt.alterConfigs({ resources: [{ resourceType: BROKER, resourceName: '', configs: [] }] })
  cfg = await volumeConfig()
  assert.equal(cfg.configSource, Source.STATIC_BROKER_CONFIG)
  assert.deepEqual(await produce(), [STORAGE_ERROR])

  // DeleteRecords up to the end frees the segments below the active one: writes come back.
  const [end] = await kjs.fetchTopicOffsets(TOPIC)
  await kjs.deleteTopicRecords({ topic: TOPIC, partitions: [{ partition: 0, offset: end!.high }] })
  assert.ok(broker.logs.volume.usedBytes < 64 * 1024, `used ${broker.logs.volume.usedBytes}`)
  for (let i = 0; i < 5; i++) assert.deepEqual(await produce(), [])
  // Every record acknowledged since the delete point is there, in order.
  const after = await kcatReadAll()
  const kept = acked.slice(acked.length - after.length)
  assert.deepEqual(after, kept)
  assert.ok(after.length >= 5)
})

test('volume.size.bytes: filling again and raising the quota with KafkaJS AlterConfigs; nothing acknowledged is lost', async () => {
  const start = Number((await kjs.fetchTopicOffsets(TOPIC))[0]!.low)
  acked.length = 0
  await fillUp()
  await kjs.alterConfigs({ validateOnly: false, resources: [{ type: BROKER, name: '0', configEntries: [{ name: 'volume.size.bytes', value: String(4 * 1024 * 1024) }] }] })
  for (let i = 0; i < 10; i++) assert.deepEqual(await produce(), [])
  const all = await kcatReadAll()
  const [off] = await kjs.fetchTopicOffsets(TOPIC)
  assert.equal(Number(off!.low), start)
  assert.deepEqual(all.slice(all.length - acked.length), acked)
})
