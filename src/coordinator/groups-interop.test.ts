// Consumer groups against a broker process, with real clients: KafkaJS (two members in one
// process), confluent-kafka-python (librdkafka 2.0.2: subscribe + commit, and assign() commits),
// kcat's balanced consumer, kafka-python, and a restart that resumes at the committed offsets.
// A missing client fails the test: these are the clients the broker promises to serve.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

const require = createRequire(import.meta.url)
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs')

const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url))
const PYTHON = '/usr/bin/python3'

interface RunningBroker {
  bootstrap: string
  proc: ChildProcess
  output: string[]
}

async function startBroker(dataDir: string): Promise<RunningBroker> {
  const proc = spawn(process.execPath, [MAIN, 'broker', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--set', 'group.initial.rebalance.delay.ms=0', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output: string[] = []
  proc.stderr!.on('data', (d: Buffer) => output.push(d.toString()))
  const bootstrap = await new Promise<string>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => reject(new Error(`broker not ready: ${buf}${output.join('')}`)), 15_000)
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      const m = /ready.*?(127\.0\.0\.1:\d+)/.exec(buf)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    proc.once('exit', (code) => reject(new Error(`broker exited with ${code}: ${output.join('')}`)))
  })
  return { bootstrap, proc, output }
}

async function stopBroker(b: RunningBroker): Promise<void> {
  if (b.proc.exitCode !== null) return
  const exited = new Promise<void>((resolve) => b.proc.once('exit', () => resolve()))
  b.proc.kill('SIGTERM')
  await Promise.race([exited, sleep(10_000).then(() => b.proc.kill('SIGKILL'))])
  await exited
}

function run(cmd: string, args: string[], timeoutMs = 45_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message}\n${stderr}`))
      else resolve({ stdout, stderr })
    })
  })
}

function kafkajs(bootstrap: string) {
  return new Kafka({ brokers: [bootstrap], clientId: 'groups-interop', logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } })
}

async function produce(bootstrap: string, topic: string, partitions: number, count: number, prefix = 'm'): Promise<void> {
  const kafka = kafkajs(bootstrap)
  const producer = kafka.producer()
  await producer.connect()
  const messages = Array.from({ length: count }, (_, i) => ({ key: `${prefix}${i}`, value: `${prefix}${i}`, partition: i % partitions }))
  await producer.send({ topic, messages, acks: -1 })
  await producer.disconnect()
}

async function createTopic(bootstrap: string, topic: string, partitions: number): Promise<void> {
  const admin = kafkajs(bootstrap).admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true })
  await admin.disconnect()
}

/** Committed offsets per partition, read with KafkaJS (OffsetFetch v4 through FindCoordinator). */
async function committed(bootstrap: string, groupId: string, topic: string): Promise<number[]> {
  const admin = kafkajs(bootstrap).admin()
  await admin.connect()
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] })
    return t!.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset))
  } finally {
    await admin.disconnect()
  }
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

describe('consumer groups with real clients', { timeout: 150_000 }, () => {
  let dir: string
  let broker: RunningBroker

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fjord-groups-'))
    broker = await startBroker(dir)
  })

  after(async () => {
    if (broker) await stopBroker(broker)
    rmSync(dir, { recursive: true, force: true })
  })

  it('KafkaJS: two members of one group split a 3-partition topic and commit what they consumed', { timeout: 60_000 }, async () => {
    const topic = 'kafkajs-group'
    const groupId = 'kafkajs-group-g'
    await createTopic(broker.bootstrap, topic, 3)
    await produce(broker.bootstrap, topic, 3, 300)
    const kafka = kafkajs(broker.bootstrap)
    const seen = new Set<string>()
    const assignments = new Map<string, number[]>()
    const members = await Promise.all(['a', 'b'].map(async (name) => {
      const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 100 })
      consumer.on(consumer.events.GROUP_JOIN, (e) => { assignments.set(name, e.payload.memberAssignment[topic] ?? []) })
      await consumer.connect()
      await consumer.subscribe({ topic, fromBeginning: true })
      await consumer.run({ eachMessage: async ({ message }) => { seen.add(message.key!.toString()) } })
      return consumer
    }))
    try {
      await until('both members assigned and every message consumed', () =>
        seen.size === 300 && assignments.size === 2 && [...assignments.values()].every((p) => p.length > 0) &&
        [...assignments.values()].flat().length === 3)
      const all = [...assignments.values()].flat().sort()
      assert.deepEqual(all, [0, 1, 2], 'the partitions are split between the members without overlap')
      await until('offsets committed', async () => (await committed(broker.bootstrap, groupId, topic)).join() === '100,100,100')
      const admin = kafka.admin()
      await admin.connect()
      const { groups } = await admin.describeGroups([groupId])
      assert.equal(groups[0]!.state, 'Stable')
      assert.equal(groups[0]!.members.length, 2)
      assert.equal(groups[0]!.protocolType, 'consumer')
      await admin.disconnect()
    } finally {
      await Promise.all(members.map((c) => c.disconnect()))
    }
    const admin = kafka.admin()
    await admin.connect()
    const { groups } = await admin.describeGroups([groupId])
    assert.equal(groups[0]!.state, 'Empty', 'members left on disconnect')
    assert.ok((await admin.listGroups()).groups.some((g) => g.groupId === groupId))
    await admin.disconnect()
  })

  it('confluent-kafka-python (librdkafka): subscribe, consume, commit; assign() commits with generation -1', { timeout: 60_000 }, async () => {
    const topic = 'confluent-group'
    await createTopic(broker.bootstrap, topic, 3)
    await produce(broker.bootstrap, topic, 3, 60)
    const script = `
import json, sys, time
from confluent_kafka import Consumer, TopicPartition
b, topic = sys.argv[1], sys.argv[2]
c = Consumer({'bootstrap.servers': b, 'group.id': 'confluent-g', 'auto.offset.reset': 'earliest', 'enable.auto.commit': False, 'session.timeout.ms': 6000})
c.subscribe([topic])
n, t0 = 0, time.time()
while n < 60 and time.time() - t0 < 30:
    m = c.poll(0.2)
    if m is None: continue
    if m.error(): raise Exception(str(m.error()))
    n += 1
c.commit(asynchronous=False)
got = [tp.offset for tp in c.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)]
assigned = sorted(tp.partition for tp in c.assignment())
c.close()
a = Consumer({'bootstrap.servers': b, 'group.id': 'confluent-assign', 'enable.auto.commit': False})
a.assign([TopicPartition(topic, 1, 0)])
a.commit(offsets=[TopicPartition(topic, 1, 7)], asynchronous=False)
manual = a.committed([TopicPartition(topic, 1)], timeout=10)[0].offset
a.close()
print(json.dumps({'consumed': n, 'committed': got, 'assigned': assigned, 'manual': manual}))
`
    const { stdout } = await run(PYTHON, ['-c', script, broker.bootstrap, topic])
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as { consumed: number; committed: number[]; assigned: number[]; manual: number }
    assert.equal(r.consumed, 60)
    assert.deepEqual(r.assigned, [0, 1, 2])
    assert.deepEqual(r.committed, [20, 20, 20])
    assert.equal(r.manual, 7)
    assert.deepEqual(await committed(broker.bootstrap, 'confluent-g', topic), [20, 20, 20])
  })

  it('kcat balanced consumer (-G) consumes every partition and commits on exit', { timeout: 60_000 }, async () => {
    const topic = 'kcat-group'
    await createTopic(broker.bootstrap, topic, 3)
    await produce(broker.bootstrap, topic, 3, 30)
    const { stdout } = await run('kcat', ['-b', broker.bootstrap, '-G', 'kcat-g', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\\n', '-X', 'auto.commit.interval.ms=100', '-X', 'session.timeout.ms=6000'])
    const keys = stdout.split('\n').filter(Boolean)
    assert.equal(keys.length, 30)
    assert.deepEqual(await committed(broker.bootstrap, 'kcat-g', topic), [10, 10, 10])
  })

  it('kafka-python: a group consumer consumes and commits', { timeout: 60_000 }, async () => {
    const topic = 'kafka-python-group'
    await createTopic(broker.bootstrap, topic, 3)
    await produce(broker.bootstrap, topic, 3, 30)
    const script = `
import json, sys
from kafka import KafkaConsumer, TopicPartition
b, topic = sys.argv[1], sys.argv[2]
c = KafkaConsumer(topic, bootstrap_servers=b, group_id='kafka-python-g', auto_offset_reset='earliest', enable_auto_commit=False, consumer_timeout_ms=15000)
n = 0
for m in c:
    n += 1
    if n == 30: break
c.commit()
got = [c.committed(TopicPartition(topic, p)) for p in range(3)]
c.close()
print(json.dumps({'consumed': n, 'committed': got}))
`
    const { stdout } = await run(PYTHON, ['-c', script, broker.bootstrap, topic])
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as { consumed: number; committed: number[] }
    assert.equal(r.consumed, 30)
    assert.deepEqual(r.committed, [10, 10, 10])
  })

  it('after a broker restart the group resumes at its committed offsets', { timeout: 60_000 }, async () => {
    const topic = 'restart-group'
    const groupId = 'restart-g'
    await createTopic(broker.bootstrap, topic, 3)
    await produce(broker.bootstrap, topic, 3, 30, 'before')
    const consumeAll = async (bootstrap: string, expected: number): Promise<string[]> => {
      const kafka = kafkajs(bootstrap)
      const keys: string[] = []
      const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 100 })
      await consumer.connect()
      await consumer.subscribe({ topic, fromBeginning: true })
      await consumer.run({ eachMessage: async ({ message }) => { keys.push(message.key!.toString()) } })
      try {
        await until(`${expected} messages`, () => keys.length >= expected)
        await sleep(300) // anything beyond what we expect would show up now
      } finally {
        await consumer.disconnect() // commits what was consumed
      }
      return keys
    }
    const first = await consumeAll(broker.bootstrap, 30)
    assert.equal(first.length, 30)
    assert.deepEqual(await committed(broker.bootstrap, groupId, topic), [10, 10, 10])

    await stopBroker(broker)
    broker = await startBroker(dir)
    assert.deepEqual(await committed(broker.bootstrap, groupId, topic), [10, 10, 10], 'offsets survive the restart')
    const admin = kafkajs(broker.bootstrap).admin()
    await admin.connect()
    const { groups } = await admin.describeGroups([groupId])
    assert.equal(groups[0]!.state, 'Empty', 'the group comes back Empty')
    await admin.disconnect()

    await produce(broker.bootstrap, topic, 3, 9, 'after')
    const second = await consumeAll(broker.bootstrap, 9)
    assert.deepEqual(second.sort(), Array.from({ length: 9 }, (_, i) => `after${i}`).sort(), 'only the records after the committed offsets')
    // confluent-kafka-python agrees on where the group stands
    const { stdout } = await run(PYTHON, ['-c', `
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({'bootstrap.servers': sys.argv[1], 'group.id': sys.argv[2]})
print(','.join(str(tp.offset) for tp in c.committed([TopicPartition(sys.argv[3], p) for p in range(3)], timeout=10)))
c.close()
`, broker.bootstrap, groupId, topic])
    assert.equal(stdout.trim(), '13,13,13')
  })
})
