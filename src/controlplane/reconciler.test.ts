// The reconciler against real broker processes: one KRaft cluster taken through its life —
// create (timed), produce, scale 3→6→3 (data intact, replicas balanced over zones), storage grow,
// an allowed shrink, storage auto-scaling, a refused shrink, a rolling configuration change, a
// broker reboot, a killed broker (HEALING → ACTIVE), delete. Operations are submitted as the API
// does (test-support.ts). Plus the pure plans of cluster-admin.ts.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import kafkajs from 'kafkajs'
import { ClusterAdmin, balancePlan, brokersToRemove, drainPlan, type PartitionState } from './cluster-admin.js'
import type { ClusterRecord, ControlPlaneStore } from './model.js'
import { GiB, Provisioner, parseServerProperties } from './provisioner.js'
import { Reconciler } from './reconciler.js'
import { openStore } from './store.js'
import { createCluster, specOf, submit, waitOperation, waitState } from './test-support.js'

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs
type Kafka = InstanceType<typeof Kafka>
const RECORDS = 3000
const TOPIC = 'orders'

describe('cluster-admin plans', () => {
  const racks = [1, 2, 3, 4, 5, 6].map((id) => ({ id, rack: `z${(id - 1) % 3}` }))
  const parts: PartitionState[] = Array.from({ length: 12 }, (_, i) => ({
    topic: 't', partition: i, leader: (i % 3) + 1, replicas: [0, 1, 2].map((k) => ((i + k) % 3) + 1), isr: [], internal: false,
  }))

  it('balances replicas and leaders onto new brokers, one replica per zone', () => {
    const moves = balancePlan(parts, racks)
    const after = parts.map((p) => moves.find((m) => m.partition === p.partition)?.replicas ?? p.replicas)
    const load = new Map<number, number>()
    const lead = new Map<number, number>()
    for (const r of after) {
      for (const b of r) load.set(b, (load.get(b) ?? 0) + 1)
      lead.set(r[0]!, (lead.get(r[0]!) ?? 0) + 1)
      assert.equal(new Set(r.map((b) => racks[b - 1]!.rack)).size, 3, `racks of ${r}`)
    }
    for (const id of [1, 2, 3, 4, 5, 6]) {
      assert.equal(load.get(id), 6, `replicas on ${id}`)
      assert.equal(lead.get(id), 2, `leaders on ${id}`)
    }
  })

  it('drains brokers within their zones and picks removals evenly per zone, highest ids first', () => {
    const spread = parts.map((p) => ({ ...p, replicas: p.replicas.map((r) => (p.partition % 2 === 0 ? r : r + 3)) }))
    const moves = drainPlan(spread, racks, [4, 5, 6])
    for (const m of moves) {
      assert.ok(m.replicas.every((r) => r <= 3), `${m.replicas}`)
      assert.equal(new Set(m.replicas).size, 3)
    }
    assert.throws(() => drainPlan(parts, racks, [1, 2, 3, 4]), /only 2 brokers would remain/)
    const brokers = racks.map((b) => ({ id: b.id, zone: b.rack! }))
    assert.deepEqual(brokersToRemove(brokers, 3), [4, 5, 6])
    assert.deepEqual(brokersToRemove([...brokers, { id: 7, zone: 'z0' }, { id: 8, zone: 'z1' }, { id: 9, zone: 'z2' }], 6), [7, 8, 9])
  })

  it('reads server.properties', () => {
    assert.deepEqual(parseServerProperties('# c\nauto.create.topics.enable = true\n\nlog.retention.ms=5\n'), { 'auto.create.topics.enable': 'true', 'log.retention.ms': '5' })
  })
})

describe('reconciler: a cluster through its life', { timeout: 300_000 }, () => {
  let dir: string
  let store: ControlPlaneStore
  let reconciler: Reconciler
  let provisioner: Provisioner
  let arn = ''
  let kafka: Kafka
  const log = {
    info() {},
    warn(o: object, m?: string) { if (process.env.FJORD_TEST_VERBOSE) console.log('warn', m, o) },
    error(o: object, m?: string) { console.log('error', m, o) },
  }

  /** Failure injection (the reconciler's testHook): these points throw, once each. */
  const failAt = new Set<string>()
  /** What a hook at the reassignment point saw: each broker's follower/leader throttle and its config source. */
  let throttleSeen: { broker: number; follower: string; leader: string; source: number }[][] = []
  const testHook = async (point: string): Promise<void> => {
    if (point === 'reassign') throttleSeen.push(await describeThrottles())
    if (failAt.delete(point)) throw new Error(`injected failure at ${point}`)
  }

  async function describeThrottles(): Promise<{ broker: number; follower: string; leader: string; source: number }[]> {
    const admin = newKafka().admin()
    await admin.connect()
    try {
      const ids = provisioner.get(arn)!.brokerIds
      const out = []
      for (const id of ids) {
        const r = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.BROKER, name: String(id), configNames: ['follower.replication.throttled.rate', 'leader.replication.throttled.rate'] }] })
        const e = new Map(r.resources[0]!.configEntries.map((x) => [x.configName, x]))
        out.push({ broker: id, follower: e.get('follower.replication.throttled.rate')!.configValue, leader: e.get('leader.replication.throttled.rate')!.configValue, source: e.get('follower.replication.throttled.rate')!.configSource })
      }
      return out
    } finally {
      await admin.disconnect()
    }
  }

  const cluster = (): ClusterRecord => store.getCluster(arn)!
  const bootstrap = () => provisioner.get(arn)!.bootstrap
  const newKafka = () => new Kafka({ clientId: 'reconciler-test', brokers: bootstrap().split(','), logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 } })

  async function readAll(): Promise<string[]> {
    const k = newKafka()
    const consumer = k.consumer({ groupId: `g-${Date.now()}` })
    const seen: string[] = []
    await consumer.connect()
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${seen.length} of ${RECORDS}`)), 60_000)
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(message.value!.toString())
          if (seen.length >= RECORDS) {
            clearTimeout(timer)
            resolve()
          }
        },
      })
    })
    await consumer.disconnect()
    return seen
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fjord-reconciler-'))
    store = openStore(path.join(dir, 'controlplane.db'))
    provisioner = new Provisioner({ root: dir, clusterOptions: { backoff: { initialMs: 200 } } })
    reconciler = new Reconciler({ store, provisioner, logger: log, usageCheckIntervalMs: 500, reassignmentThrottleBytesPerSec: 50 * 2 ** 20, testHook })
    await reconciler.start()
  })

  after(async () => {
    await reconciler.close({ stopClusters: true })
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('creates a 3-broker cluster: ACTIVE within 5 s, one broker per zone', async () => {
    const t0 = Date.now()
    const created = createCluster(store, reconciler, 'life', specOf(3))
    arn = created.arn
    const op = await waitOperation(store, created.op.arn, 60_000)
    const ms = Date.now() - t0
    console.log(`# CreateCluster → ACTIVE: ${ms} ms (3 brokers, KRaft)`)
    assert.equal(op.state, 'UPDATE_COMPLETE', JSON.stringify(op.errorInfo))
    assert.deepEqual(op.steps.map((s) => s.stepName), ['PROVISION_RUNTIME', 'PROVISION_BROKERS', 'WAIT_FOR_BROKERS'])
    const c = cluster()
    assert.equal(c.state, 'ACTIVE')
    assert.equal(c.activeOperationArn, null)
    assert.match(c.currentVersion, /^[A-Z0-9]{14}$/)
    assert.deepEqual(c.runtime!.brokers.map((b) => [b.id, b.zone, b.clientSubnet]), [[1, 'us-east-1a', 'subnet-1'], [2, 'us-east-1b', 'subnet-2'], [3, 'us-east-1c', 'subnet-3']])
    assert.equal(new Set(c.runtime!.brokers.map((b) => b.port)).size, 3)
    assert.equal(c.runtime!.brokers[0]!.volumeSizeBytes, 10 * GiB)
    assert.ok(ms < 5_000, `create took ${ms} ms`)

    kafka = newKafka()
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 6 }], waitForLeaders: true })
    const md = await admin.fetchTopicMetadata({ topics: [TOPIC] })
    assert.equal(md.topics[0]!.partitions[0]!.replicas.length, 3, 'default.replication.factor 3')
    await admin.disconnect()
    const producer = kafka.producer({ idempotent: true })
    await producer.connect()
    for (let i = 0; i < RECORDS; i += 500) {
      await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: 500 }, (_, k) => ({ key: `k${i + k}`, value: `v${i + k}-${'x'.repeat(80)}` })) })
    }
    await producer.disconnect()
  })

  it('a scale-out failing midway is rolled back (throttled moves undone, brokers removed): spec, runtime and processes agree', async () => {
    failAt.add('step:ELECT_PREFERRED_LEADERS')
    throttleSeen = []
    const op = await waitOperation(store, submit(store, reconciler, arn, 'UPDATE_BROKER_COUNT', 'UPDATING', { numberOfBrokerNodes: 6 }).arn)
    assert.equal(op.state, 'UPDATE_FAILED')
    assert.match(op.errorInfo!.errorString, /injected failure at step:ELECT_PREFERRED_LEADERS; rolled back: brokers 4, 5, 6 removed/)
    assert.deepEqual(op.steps.map((s) => `${s.stepName} ${s.stepStatus}`), [
      'PROVISION_BROKERS COMPLETE', 'WAIT_FOR_BROKERS COMPLETE', 'REASSIGN_PARTITIONS COMPLETE', 'ELECT_PREFERRED_LEADERS FAILED',
      'ROLLBACK_REASSIGN_PARTITIONS COMPLETE', 'ROLLBACK_WAIT_FOR_EMPTY_BROKERS COMPLETE', 'ROLLBACK_ELECT_PREFERRED_LEADERS COMPLETE',
      'ROLLBACK_REMOVE_BROKERS COMPLETE', 'ROLLBACK_WAIT_FOR_BROKERS COMPLETE',
    ])
    // The throttle was on every broker while replicas moved (onto 4-6, then off them), and is gone.
    const rate = String(50 * 2 ** 20)
    assert.equal(throttleSeen.length, 2, 'two reassignments: the scale-out and its rollback')
    assert.deepEqual(throttleSeen[0]!.map((t) => [t.broker, t.follower, t.leader, t.source]), [1, 2, 3, 4, 5, 6].map((id) => [id, rate, rate, 2]))
    for (const t of await describeThrottles()) assert.deepEqual([t.follower, t.leader, t.source], ['0', '0', 5], `broker ${t.broker} unthrottled`)
    const c = cluster()
    assert.equal(c.state, 'ACTIVE')
    assert.equal(c.spec.numberOfBrokerNodes, 3)
    assert.deepEqual(c.runtime!.brokers.map((b) => b.id), [1, 2, 3])
    const lc = provisioner.get(arn)!
    assert.deepEqual(lc.brokerIds, [1, 2, 3])
    assert.deepEqual(lc.status().filter((p) => p.role === 'broker').map((p) => p.id), [1, 2, 3])
    for (const id of [4, 5, 6]) assert.ok(!existsSync(path.join(c.runtime!.dataDir, 'kafka', `broker-${id}`)), `broker-${id} removed`)
    const admin = new ClusterAdmin(bootstrap)
    try {
      const v = await admin.view()
      assert.deepEqual(v.brokers.map((b) => b.id), [1, 2, 3])
      assert.ok(v.partitions.every((p) => p.replicas.every((r) => r <= 3)), 'no replica left on a removed broker')
    } finally {
      await admin.close()
    }
  })

  it('a failed scale-out whose rollback fails too keeps its brokers in the runtime; the retry balances onto them', async () => {
    failAt.add('step:ELECT_PREFERRED_LEADERS')
    failAt.add('step:ROLLBACK_REASSIGN_PARTITIONS')
    let op = await waitOperation(store, submit(store, reconciler, arn, 'UPDATE_BROKER_COUNT', 'UPDATING', { numberOfBrokerNodes: 6 }).arn)
    assert.equal(op.state, 'UPDATE_FAILED')
    assert.match(op.errorInfo!.errorString, /rolling back failed too .*: brokers 4, 5, 6 keep running; UpdateBrokerCount to 6 completes the scale-out/)
    const c = cluster()
    assert.equal(c.state, 'ACTIVE')
    assert.equal(c.spec.numberOfBrokerNodes, 3)
    assert.deepEqual(c.runtime!.brokers.map((b) => b.id), [1, 2, 3, 4, 5, 6])
    assert.deepEqual(provisioner.get(arn)!.brokerIds, [1, 2, 3, 4, 5, 6])

    // The retry does the remaining work (before: "finished instantly with no steps").
    op = await waitOperation(store, submit(store, reconciler, arn, 'UPDATE_BROKER_COUNT', 'UPDATING', { numberOfBrokerNodes: 6 }).arn)
    assert.equal(op.state, 'UPDATE_COMPLETE', JSON.stringify(op.errorInfo))
    assert.deepEqual(op.steps.map((s) => `${s.stepName} ${s.stepStatus}`), ['PROVISION_BROKERS COMPLETE', 'WAIT_FOR_BROKERS COMPLETE', 'REASSIGN_PARTITIONS COMPLETE', 'ELECT_PREFERRED_LEADERS COMPLETE'])
    assert.equal(cluster().spec.numberOfBrokerNodes, 6)
    assert.deepEqual(cluster().runtime!.brokers.map((b) => b.id), [1, 2, 3, 4, 5, 6])
    const admin = new ClusterAdmin(bootstrap)
    try {
      const load = new Map<number, number>()
      for (const p of (await admin.view()).partitions.filter((x) => x.topic === TOPIC)) for (const r of p.replicas) load.set(r, (load.get(r) ?? 0) + 1)
      for (const id of [4, 5, 6]) assert.ok((load.get(id) ?? 0) >= 2, `broker ${id} holds ${load.get(id) ?? 0} replicas of ${TOPIC}`)
    } finally {
      await admin.close()
    }
    // Back to 3 brokers: 1, 2, 3.
    op = await waitOperation(store, submit(store, reconciler, arn, 'UPDATE_BROKER_COUNT', 'UPDATING', { numberOfBrokerNodes: 3 }).arn)
    assert.equal(op.state, 'UPDATE_COMPLETE', JSON.stringify(op.errorInfo))
    assert.deepEqual(cluster().runtime!.brokers.map((b) => b.id), [1, 2, 3])
  })

  it('scales out to 6 brokers and moves replicas onto them, then back to 3, data intact', async () => {
    let t0 = Date.now()
    let op = submit(store, reconciler, arn, 'UPDATE_BROKER_COUNT', 'UPDATING', { numberOfBrokerNodes: 6 })
    op = await waitOperation(store, op.arn)
    console.log(`# scale 3 → 6: ${Date.now() - t0} ms`)
    assert.equal(op.state, 'UPDATE_COMPLETE', JSON.stringify(op.errorInfo))
    assert.equal(cluster().spec.numberOfBrokerNodes, 6)
    assert.deepEqual(cluster().runtime!.brokers.map((b) => b.zone), ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1a', 'us-east-1b', 'us-east-1c'])
    const admin = new ClusterAdmin(bootstrap)
    try {
      const v = await admin.view()
      assert.deepEqual(v.brokers.map((b) => b.id), [1, 2, 3, 4, 5, 6])
      const load = new Map<number, number>()
      for (const p of v.partitions.filter((x) => x.topic === TOPIC)) {
        for (const r of p.replicas) load.set(r, (load.get(r) ?? 0) + 1)
        assert.equal(new Set(p.replicas.map((r) => v.brokers.find((b) => b.id === r)!.rack)).size, 3, `zones of ${p.partition}: ${p.replicas}`)
      }
      for (const id of [4, 5, 6]) assert.ok((load.get(id) ?? 0) >= 2, `broker ${id} holds ${load.get(id) ?? 0} replicas of ${TOPIC}`)

      // A scale-in failing once its brokers were drained is rolled back: the replicas spread over all six again.
      failAt.add('step:WAIT_FOR_EMPTY_BROKERS')
      const failed = await waitOperation(store, submit(store, reconciler, arn, 'UPDATE_BROKER_COUNT', 'UPDATING', { numberOfBrokerNodes: 3 }).arn)
      assert.equal(failed.state, 'UPDATE_FAILED')
      assert.match(failed.errorInfo!.errorString, /injected failure at step:WAIT_FOR_EMPTY_BROKERS; rolled back: replicas balanced over brokers 1, 2, 3, 4, 5, 6 again/)
      assert.deepEqual(failed.steps.map((s) => `${s.stepName} ${s.stepStatus}`), [
        'CHOOSE_BROKERS COMPLETE', 'REASSIGN_PARTITIONS COMPLETE', 'WAIT_FOR_EMPTY_BROKERS FAILED',
        'ROLLBACK_REASSIGN_PARTITIONS COMPLETE', 'ROLLBACK_ELECT_PREFERRED_LEADERS COMPLETE',
      ])
      assert.equal(cluster().state, 'ACTIVE')
      assert.equal(cluster().spec.numberOfBrokerNodes, 6)
      assert.deepEqual(cluster().runtime!.brokers.map((b) => b.id), [1, 2, 3, 4, 5, 6])
      const back = new Map<number, number>()
      for (const p of (await admin.view()).partitions.filter((x) => x.topic === TOPIC)) for (const r of p.replicas) back.set(r, (back.get(r) ?? 0) + 1)
      for (const id of [4, 5, 6]) assert.ok((back.get(id) ?? 0) >= 2, `broker ${id} holds ${back.get(id) ?? 0} replicas of ${TOPIC} again`)

      t0 = Date.now()
      op = submit(store, reconciler, arn, 'UPDATE_BROKER_COUNT', 'UPDATING', { numberOfBrokerNodes: 3 })
      op = await waitOperation(store, op.arn)
      console.log(`# scale 6 → 3: ${Date.now() - t0} ms`)
      assert.equal(op.state, 'UPDATE_COMPLETE', JSON.stringify(op.errorInfo))
      assert.deepEqual(op.params.removeBrokerIds, [4, 5, 6])
      assert.deepEqual(cluster().runtime!.brokers.map((b) => b.id), [1, 2, 3])
      for (const id of [4, 5, 6]) assert.ok(!existsSync(path.join(cluster().runtime!.dataDir, 'kafka', `broker-${id}`)), `broker-${id} removed`)
      const v2 = await admin.view()
      assert.ok(v2.partitions.every((p) => p.replicas.every((r) => r <= 3)), 'no replica left on a removed broker')
    } finally {
      await admin.close()
    }
    const seen = await readAll()
    assert.equal(new Set(seen).size, RECORDS)
  })

  it('grows storage live, allows a shrink that fits, auto-scales, refuses a shrink that does not fit', async () => {
    const group = (gib: number) => ({ ...cluster().spec.brokerNodeGroupInfo, storageInfo: { ebsStorageInfo: { volumeSize: gib } } })
    const pids = provisioner.get(arn)!.status().map((p) => p.pid)
    let op = await waitOperation(store, submit(store, reconciler, arn, 'UPDATE_BROKER_STORAGE', 'UPDATING', { brokerNodeGroupInfo: group(20), brokerVolumeSizeGiB: {} }).arn)
    assert.equal(op.state, 'UPDATE_COMPLETE', JSON.stringify(op.errorInfo))
    assert.ok(cluster().runtime!.brokers.every((b) => b.volumeSizeBytes === 20 * GiB))
    assert.equal(provisioner.get(arn)!.brokerSettings['volume.size.bytes'], String(20 * GiB))
    assert.deepEqual(provisioner.get(arn)!.status().map((p) => p.pid), pids, 'no restart')
    const admin = new ClusterAdmin(bootstrap)
    try {
      for (const id of [1, 2, 3]) assert.equal((await admin.logDirUsage(id, Date.now() + 10_000)).totalBytes, 20 * GiB, `DescribeLogDirs totalBytes of broker ${id}`)
    } finally {
      await admin.close()
    }

    // About 1 MiB: more than the few hundred KiB each broker holds.
    const small = 2 ** 20 / GiB
    op = await waitOperation(store, submit(store, reconciler, arn, 'UPDATE_BROKER_STORAGE', 'UPDATING', { brokerNodeGroupInfo: group(small), brokerVolumeSizeGiB: {} }).arn)
    assert.equal(op.state, 'UPDATE_COMPLETE', JSON.stringify(op.errorInfo))

    // Auto-scaling: usage passes 10 % of 1 MiB; the next step is max(10 GiB, 10 %).
    store.updateCluster(arn, (c) => void (c.spec.storageAutoScaling = { targetUtilization: 10, maxVolumeSizeGiB: 50, cooldownSeconds: 3600 }))
    const deadline = Date.now() + 30_000
    let auto = store.listOperations(arn).find((o) => o.type === 'AUTO_SCALE_STORAGE')
    while (!auto && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100))
      auto = store.listOperations(arn).find((o) => o.type === 'AUTO_SCALE_STORAGE')
    }
    assert.ok(auto, 'an AUTO_SCALE_STORAGE operation')
    assert.equal((await waitOperation(store, auto.arn)).state, 'UPDATE_COMPLETE')
    await waitState(store, arn, 'ACTIVE')
    assert.equal(cluster().spec.brokerNodeGroupInfo.storageInfo!.ebsStorageInfo!.volumeSize, 11)
    assert.ok(cluster().runtime!.brokers.every((b) => b.volumeSizeBytes === 11 * GiB && b.usedBytes! > 0 && b.usedAt))
    assert.ok(cluster().runtime!.lastAutoScaleAt)
    await new Promise((r) => setTimeout(r, 1500))
    assert.equal(store.listOperations(arn).filter((o) => o.type === 'AUTO_SCALE_STORAGE').length, 1, 'one step per cooldown')

    const version = cluster().currentVersion
    op = await waitOperation(store, submit(store, reconciler, arn, 'UPDATE_BROKER_STORAGE', 'UPDATING', { brokerVolumeSizeGiB: { 1: 1 / 2 ** 20 } }).arn)
    assert.equal(op.state, 'UPDATE_FAILED')
    assert.match(op.errorInfo!.errorString, /cannot shrink the volume of broker 1/)
    assert.equal(cluster().state, 'ACTIVE')
    assert.notEqual(cluster().currentVersion, version)
    assert.equal(cluster().runtime!.brokers[0]!.volumeSizeBytes, 11 * GiB)

    // A broker's own size is a dynamic broker config in the cluster metadata: a reboot keeps it.
    op = await waitOperation(store, submit(store, reconciler, arn, 'UPDATE_BROKER_STORAGE', 'UPDATING', { brokerVolumeSizeGiB: { 2: 12 } }).arn)
    assert.equal(op.state, 'UPDATE_COMPLETE', JSON.stringify(op.errorInfo))
    const pid2 = provisioner.get(arn)!.process(2).pid
    op = await waitOperation(store, submit(store, reconciler, arn, 'REBOOT_NODE', 'REBOOTING_BROKER', null, { brokerIds: [2] }).arn)
    assert.equal(op.state, 'UPDATE_COMPLETE', JSON.stringify(op.errorInfo))
    assert.notEqual(provisioner.get(arn)!.process(2).pid, pid2, 'broker 2 restarted')
    const after = new ClusterAdmin(bootstrap)
    try {
      assert.equal((await after.logDirUsage(2, Date.now() + 10_000)).totalBytes, 12 * GiB, 'broker 2 kept its own size')
      assert.equal((await after.logDirUsage(1, Date.now() + 10_000)).totalBytes, 11 * GiB, 'broker 1 the cluster size')
    } finally {
      await after.close()
    }
  })

  it('rolls a configuration change through the brokers, one at a time', async () => {
    const cfgArn = 'arn:aws:kafka:us-east-1:000000000000:configuration/retention/6a7d1a0e-0000-4000-8000-000000000001'
    store.insertConfiguration({
      arn: cfgArn, name: 'retention', description: '', kafkaVersions: [], creationTime: new Date().toISOString(), state: 'ACTIVE',
      revisions: [{ revision: 1, description: '', creationTime: new Date().toISOString(), serverProperties: 'log.retention.ms=7200000\nauto.create.topics.enable=true\n' }],
    })
    const before = provisioner.get(arn)!.status().filter((p) => p.role === 'broker').map((p) => p.pid)
    const t0 = Date.now()
    const op = await waitOperation(store, submit(store, reconciler, arn, 'UPDATE_CLUSTER_CONFIGURATION', 'UPDATING', { configurationInfo: { arn: cfgArn, revision: 1 } }).arn)
    console.log(`# rolling configuration change over 3 brokers: ${Date.now() - t0} ms`)
    assert.equal(op.state, 'UPDATE_COMPLETE', JSON.stringify(op.errorInfo))
    assert.deepEqual(op.steps.map((s) => s.stepName), [
      'UPDATE_BROKER_SETTINGS',
      'RESTART_BROKER_1', 'WAIT_FOR_IN_SYNC_REPLICAS_1',
      'RESTART_BROKER_2', 'WAIT_FOR_IN_SYNC_REPLICAS_2',
      'RESTART_BROKER_3', 'WAIT_FOR_IN_SYNC_REPLICAS_3',
      'ELECT_PREFERRED_LEADERS',
    ])
    assert.deepEqual(cluster().spec.configurationInfo, { arn: cfgArn, revision: 1 })
    const after = provisioner.get(arn)!.status().filter((p) => p.role === 'broker').map((p) => p.pid)
    for (let i = 0; i < 3; i++) assert.notEqual(after[i], before[i], `broker ${i + 1} restarted`)
    const admin = newKafka().admin()
    await admin.connect()
    try {
      const r = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '2', configNames: ['log.retention.ms', 'auto.create.topics.enable'] }] })
      const entries = Object.fromEntries(r.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]))
      assert.equal(entries['log.retention.ms'], '7200000')
      assert.equal(entries['auto.create.topics.enable'], 'true')
    } finally {
      await admin.disconnect()
    }
  })

  it('reboots one broker (REBOOTING_BROKER), and heals a killed one (HEALING → ACTIVE)', async () => {
    const lc = provisioner.get(arn)!
    const pid2 = lc.process(2).pid
    const op = submit(store, reconciler, arn, 'REBOOT_NODE', 'REBOOTING_BROKER', null, { brokerIds: [2] })
    assert.equal(cluster().state, 'REBOOTING_BROKER')
    const done = await waitOperation(store, op.arn)
    assert.equal(done.state, 'UPDATE_COMPLETE', JSON.stringify(done.errorInfo))
    assert.deepEqual(done.steps.map((s) => s.stepName), ['RESTART_BROKER_2', 'WAIT_FOR_IN_SYNC_REPLICAS_2', 'ELECT_PREFERRED_LEADERS'])
    assert.notEqual(lc.process(2).pid, pid2)
    assert.notEqual(lc.process(1).pid, null)
    assert.equal(cluster().state, 'ACTIVE')

    const t0 = Date.now()
    await lc.kill(3)
    await waitState(store, arn, 'HEALING', 5_000)
    const heal = store.getOperation(cluster().activeOperationArn!)!
    assert.equal(heal.type, 'HEAL')
    await waitState(store, arn, 'ACTIVE', 60_000)
    console.log(`# killed broker → ACTIVE again: ${Date.now() - t0} ms`)
    const healed = store.getOperation(heal.arn)!
    assert.equal(healed.state, 'UPDATE_COMPLETE')
    assert.deepEqual(healed.steps.map((s) => s.stepName), ['WAIT_FOR_PROCESSES', 'WAIT_FOR_BROKERS', 'WAIT_FOR_IN_SYNC_REPLICAS', 'ELECT_PREFERRED_LEADERS'])
    assert.equal(lc.process(3).state, 'running')
    const seen = await readAll()
    assert.equal(new Set(seen).size, RECORDS)
  })

  it('a broker that keeps exiting: HEALING names it and its log; ACTIVE once it can start again', async () => {
    const lc = provisioner.get(arn)!
    const meta = path.join(lc.process(3).dataDir, 'meta.properties')
    const original = readFileSync(meta, 'utf8')
    // Another cluster's id: the broker refuses to start (its logs would be deleted), again and again.
    writeFileSync(meta, original.replace(/cluster\.id=.*/, 'cluster.id=another-cluster'))
    await lc.kill(3)
    const deadline = Date.now() + 30_000
    while (!/keeps exiting/.test(cluster().stateInfo?.message ?? '')) {
      assert.ok(Date.now() < deadline, `no crash loop reported: ${cluster().state} ${JSON.stringify(cluster().stateInfo)}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.equal(cluster().state, 'HEALING')
    console.log(`# stateInfo while broker 3 crash-loops: ${cluster().stateInfo!.message}`)
    assert.match(cluster().stateInfo!.message, /^broker 3 keeps exiting \(\d+ restarts while healing, last exit (code \d+|signal \w+) at [^)]+\); see .*broker-3.*process\.log$/)
    writeFileSync(meta, original)
    await waitState(store, arn, 'ACTIVE', 60_000)
    assert.equal(cluster().stateInfo ?? null, null, 'stateInfo cleared once healed')
    assert.equal(lc.process(3).state, 'running')
  })

  it('deletes the cluster: processes stopped, directory removed, record gone', async () => {
    const lc = provisioner.get(arn)!
    const pids = lc.status().map((p) => p.pid!)
    const dataDir = cluster().runtime!.dataDir
    const op = submit(store, reconciler, arn, 'DELETE', 'DELETING', null)
    await waitState(store, arn, 'DELETED', 60_000)
    assert.equal(store.getOperation(op.arn)!.state, 'UPDATE_COMPLETE')
    assert.ok(!existsSync(dataDir))
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), `pid ${pid} gone`)
    assert.equal(provisioner.get(arn), undefined)
  })
})
