// ControlPlane.open/close with real processes: a ZooKeeper-mode cluster (its own ensemble of
// three) that keeps serving while the control plane is closed (detached), is adopted with the same
// pids when it opens again, resumes an operation from its recorded steps, heals a broker whose
// volume was lost (restarted empty, re-replicated from its peers) and a killed ZooKeeper leader
// (restarted, rejoins the ensemble); a create that fails leaves nothing behind;
// close({stopClusters: true}) stops everything. And the data dir's lock: a second control
// plane on the same dir (in this process or another) is refused naming the holder's pid, a dead
// holder's lock is taken over.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { tmpdir } from 'node:os'
import path from 'node:path'
import kafkajs from 'kafkajs'
import { isAlive } from '../cluster/pids.js'
import { ClusterAdmin } from './cluster-admin.js'
import { ControlPlane, LOCK_FILE } from './control-plane.js'
import type { ClusterRecord } from './model.js'
import { zookeeperMode, zookeeperUnavailable } from './zookeeper.js'
import { createCluster, specOf, submit, waitOperation, waitState } from './test-support.js'

const { Kafka, logLevel } = kafkajs
const TOPIC = 'events'

describe('control plane: detach, adopt, resume, heal a lost volume', { timeout: 240_000 }, () => {
  let dir: string
  let cp: ControlPlane
  let arn = ''
  const open = () => ControlPlane.open({ dataDir: dir, host: '127.0.0.1', port: 0, reconciler: { usageCheckIntervalMs: 0 }, clusterOptions: { backoff: { initialMs: 200 } } })
  const cluster = (): ClusterRecord => cp.store.getCluster(arn)!
  const brokerPids = () => cp.provisioner.get(arn)!.status().map((p) => `${p.role}-${p.id}:${p.pid}`)
  const zookeeperPids = () => (cluster().runtime!.zookeeper?.nodes ?? []).flatMap((n) => (n.pid === null ? [] : [n.pid]))
  const produce = async (bootstrap: string, n: number, from: number) => {
    const k = new Kafka({ clientId: 'cp-test', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } })
    const p = k.producer()
    await p.connect()
    await p.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ value: `m${from + i}` })) })
    await p.disconnect()
  }
  let allPids: number[] = []

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fjord-controlplane-'))
    cp = await open()
  })

  after(async () => {
    await cp.close({ stopClusters: true }).catch(() => {})
    for (const pid of allPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  it('creates a ZooKeeper-mode cluster with its own ZooKeeper', async () => {
    const t0 = Date.now()
    const c = createCluster(cp.store, cp.reconciler, 'zk', specOf(3, '3.6.0'))
    arn = c.arn
    const op = await waitOperation(cp.store, c.op.arn, 90_000)
    assert.equal(op.state, 'UPDATE_COMPLETE', JSON.stringify(op.errorInfo))
    console.log(`# CreateCluster → ACTIVE with ZooKeeper: ${Date.now() - t0} ms`)
    const rt = cluster().runtime!
    if (process.env.CI === 'true') assert.equal(zookeeperUnavailable(), null, 'CI installs java and ZooKeeper')
    if (zookeeperUnavailable()) {
      assert.equal(rt.metadataMode, 'embedded')
      assert.equal(cluster().stateInfo?.code, 'ZOOKEEPER_UNAVAILABLE')
    } else {
      assert.equal(rt.metadataMode, 'zookeeper')
      assert.match(rt.zookeeper!.connect, /^127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){2}$/, 'an ensemble of three')
      for (const n of rt.zookeeper!.nodes) assert.ok(n.pid && isAlive(n.pid), `ZooKeeper node ${n.id} runs`)
      const modes = await Promise.all(rt.zookeeper!.nodes.map((n) => zookeeperMode('127.0.0.1', n.clientPort)))
      assert.deepEqual(modes.sort(), ['follower', 'follower', 'leader'])
      assert.deepEqual(op.steps.map((s) => s.stepName), ['PROVISION_RUNTIME', 'START_ZOOKEEPER', 'PROVISION_BROKERS', 'WAIT_FOR_BROKERS'])
    }
    const k = new Kafka({ clientId: 'cp-test', brokers: cp.provisioner.get(arn)!.bootstrap.split(','), logLevel: logLevel.NOTHING })
    const admin = k.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3 }], waitForLeaders: true })
    await admin.disconnect()
    await produce(cp.provisioner.get(arn)!.bootstrap, 100, 0)
  })

  it('keeps the cluster serving while closed, adopts the same processes, resumes an operation at its recorded step', async () => {
    const bootstrap = cp.provisioner.get(arn)!.bootstrap
    const before = brokerPids()
    allPids = cp.provisioner.get(arn)!.status().map((p) => p.pid!).concat(zookeeperPids())
    await cp.close({ stopClusters: false })
    for (const pid of allPids) assert.ok(isAlive(pid), `pid ${pid} still runs`)
    await produce(bootstrap, 100, 100)

    // While the control plane is down: a reboot of brokers 1 and 2 whose first restart already
    // happened (as if the control plane had crashed right after it).
    const { openStore } = await import('./store.js')
    const store = openStore(path.join(dir, 'controlplane.db'))
    const op = submit(store, { wake() {} }, arn, 'REBOOT_NODE', 'REBOOTING_BROKER', null, { brokerIds: [1, 2] })
    store.updateOperation(op.arn, (o) => {
      o.state = 'UPDATE_IN_PROGRESS'
      o.steps = [{ stepName: 'RESTART_BROKER_1', stepStatus: 'COMPLETE' }, { stepName: 'WAIT_FOR_IN_SYNC_REPLICAS_1', stepStatus: 'COMPLETE' }, { stepName: 'RESTART_BROKER_2', stepStatus: 'IN_PROGRESS' }]
    })
    store.close()

    cp = await open()
    const adopted = cp.provisioner.get(arn)!
    assert.ok(adopted.status().every((p) => p.adopted), 'adopted, not restarted')
    for (const pid of zookeeperPids()) assert.ok(allPids.includes(pid), `ZooKeeper pid ${pid} adopted, not a new one`)
    const done = await waitOperation(cp.store, op.arn, 60_000)
    assert.equal(done.state, 'UPDATE_COMPLETE', JSON.stringify(done.errorInfo))
    const after = brokerPids()
    assert.equal(after.find((p) => p.startsWith('broker-1:')), before.find((p) => p.startsWith('broker-1:')), 'broker 1 not restarted again')
    assert.notEqual(after.find((p) => p.startsWith('broker-2:')), before.find((p) => p.startsWith('broker-2:')), 'broker 2 restarted')
    assert.equal(after.find((p) => p.startsWith('broker-3:')), before.find((p) => p.startsWith('broker-3:')))
    assert.equal(cluster().state, 'ACTIVE')
    allPids.push(...adopted.status().map((p) => p.pid!))
  })

  it('heals a broker whose volume was lost: restarted empty, re-replicated', async () => {
    const lc = cp.provisioner.get(arn)!
    await lc.wipeVolume(3)
    await waitState(cp.store, arn, 'HEALING', 10_000)
    await waitState(cp.store, arn, 'ACTIVE', 90_000)
    allPids.push(lc.process(3).pid!)
    const admin = new ClusterAdmin(() => lc.bootstrap)
    try {
      const usage = await admin.logDirUsage(3, Date.now() + 10_000)
      assert.ok(usage.partitions >= 3 && usage.usedBytes > 0, `broker 3 holds ${usage.partitions} partitions, ${usage.usedBytes} bytes`)
      const v = await admin.view()
      assert.ok(v.partitions.filter((p) => p.topic === TOPIC).every((p) => p.isr.length === 3))
    } finally {
      await admin.close()
    }
    await produce(lc.bootstrap, 10, 200)
  })

  it('a ZooKeeper node killed (the leader): the quorum holds, the node is restarted and rejoins, the cluster heals', async () => {
    assert.equal(zookeeperUnavailable(), null, 'needs java and ZooKeeper (scripts/install-test-deps.sh installs them)')
    const lc = cp.provisioner.get(arn)!
    const zk = cluster().runtime!.zookeeper!
    const modes = await Promise.all(zk.nodes.map((n) => zookeeperMode('127.0.0.1', n.clientPort)))
    const leader = zk.nodes[modes.indexOf('leader')]!
    const heals = new Set(cp.store.listOperations(arn).filter((o) => o.type === 'HEAL').map((o) => o.arn))
    const t0 = Date.now()
    process.kill(leader.pid!, 'SIGKILL')
    await produce(lc.bootstrap, 10, 210)
    const deadline = Date.now() + 60_000
    let node = leader
    for (;;) {
      node = cluster().runtime!.zookeeper!.nodes.find((n) => n.id === leader.id)!
      const heal = cp.store.listOperations(arn).find((o) => o.type === 'HEAL' && !heals.has(o.arn))
      const serving = await Promise.all(zk.nodes.map((n) => zookeeperMode('127.0.0.1', n.clientPort)))
      if (heal?.state === 'UPDATE_COMPLETE' && cluster().state === 'ACTIVE' && serving.every((m) => m !== null)) break
      assert.ok(Date.now() < deadline, `not healed: HEAL ${heal?.state}, ${cluster().state}, modes ${serving}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    console.log(`# ZooKeeper leader (node ${leader.id}) SIGKILLed → restarted, ensemble serving, cluster ACTIVE: ${Date.now() - t0} ms`)
    assert.notEqual(node.pid, leader.pid, 'the node runs as a new process')
    assert.ok(isAlive(node.pid!))
    allPids.push(node.pid!)
    // The controllers kept a ZooKeeper session: metadata changes still go through.
    const admin = new Kafka({ clientId: 'cp-test', brokers: lc.bootstrap.split(','), logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
    try {
      assert.ok(await admin.createTopics({ topics: [{ topic: 'after-zookeeper-failover', numPartitions: 3, replicationFactor: 3 }], waitForLeaders: true }))
    } finally {
      await admin.disconnect()
    }
    await produce(lc.bootstrap, 10, 220)
  })

  it('leaves nothing behind when a create fails', async () => {
    const cfgArn = 'arn:aws:kafka:us-east-1:000000000000:configuration/bad/6a7d1a0e-0000-4000-8000-000000000002'
    cp.store.insertConfiguration({
      arn: cfgArn, name: 'bad', description: '', kafkaVersions: [], creationTime: new Date().toISOString(), state: 'ACTIVE',
      revisions: [{ revision: 1, description: '', creationTime: new Date().toISOString(), serverProperties: 'num.partitions=many\n' }],
    })
    const c = createCluster(cp.store, cp.reconciler, 'broken', { ...specOf(3), configurationInfo: { arn: cfgArn, revision: 1 } })
    const op = await waitOperation(cp.store, c.op.arn, 60_000)
    assert.equal(op.state, 'UPDATE_FAILED')
    assert.match(op.errorInfo!.errorString, /num.partitions/)
    const failed = cp.store.getCluster(c.arn)!
    assert.equal(failed.state, 'FAILED')
    assert.equal(failed.runtime, null)
    assert.match(failed.stateInfo!.message, /num.partitions/)
    assert.deepEqual(readdirSync(path.join(dir, 'clusters')).filter((d) => d.startsWith('broken-')), [])
    assert.equal(cp.provisioner.get(c.arn), undefined)
  })

  it('stops every process on close({stopClusters: true})', async () => {
    const zkNodes = cluster().runtime!.zookeeper?.nodes ?? []
    allPids.push(...zookeeperPids())
    await cp.close({ stopClusters: true })
    for (const pid of allPids) assert.ok(!isAlive(pid), `pid ${pid} stopped`)
    for (const n of zkNodes) assert.ok(!existsSync(path.join(n.dir, 'zookeeper.pid')), `node ${n.id}'s pid file removed`)
  })
})

describe('control plane: one per data dir', { timeout: 60_000 }, () => {
  const open = (dataDir: string) => ControlPlane.open({ dataDir, host: '127.0.0.1', port: 0, reconciler: { usageCheckIntervalMs: 0 } })
  let dir: string
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'fjord-controlplane-lock-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('refuses a second control plane in this process; close releases the lock', async () => {
    const first = await open(dir)
    try {
      assert.equal(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid)
      await assert.rejects(open(dir), new RegExp(`in use by this process \\(pid ${process.pid}\\)`))
    } finally {
      await first.close()
    }
    assert.ok(!existsSync(path.join(dir, LOCK_FILE)), 'close removes the lock')
    const again = await open(dir)
    await again.close()
  })

  it('refuses while another live process holds it, naming its pid; takes over once that process is dead', async () => {
    const module = fileURLToPath(new URL('./control-plane.js', import.meta.url))
    const script = `const { ControlPlane } = await import(${JSON.stringify(module)}); await ControlPlane.open({ dataDir: ${JSON.stringify(dir)}, host: '127.0.0.1', port: 0, reconciler: { usageCheckIntervalMs: 0 } }); console.log('ready')`
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      let out = ''
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
      const deadline = Date.now() + 20_000
      while (!out.includes('ready')) {
        assert.ok(Date.now() < deadline && child.exitCode === null, `the other control plane did not start: ${out}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      await assert.rejects(open(dir), new RegExp(`in use by another process \\(pid ${child.pid}\\)`))
    } finally {
      child.kill('SIGKILL')
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit')
    }
    // Its lock stays behind, naming a dead pid: stale, taken over.
    assert.equal(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, child.pid)
    const cp = await open(dir)
    try {
      assert.equal(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid)
    } finally {
      await cp.close()
    }
    // A lock left half written (not JSON) is stale too.
    writeFileSync(path.join(dir, LOCK_FILE), '{"pi')
    await (await open(dir)).close()
  })
})
