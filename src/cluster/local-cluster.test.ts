// The local cluster launcher and its supervisor against real broker processes (standalone:
// every broker its own embedded controller, or with the controller once FJORD_TEST_METADATA=embedded).

import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { KafkaClient } from '../cli/kafka-client.js'
import { startCluster } from '../../test/helpers/cluster.js'
import { probe } from './health.js'
import { isPortFree } from './ports.js'
import { LocalCluster, type ClusterOptions, type ExitEvent } from './local-cluster.js'
import { isAlive } from './pids.js'
import { readClusterFile } from './spec.js'

const MODULE = fileURLToPath(new URL('./local-cluster.js', import.meta.url))
const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url))
/** Whether this build has the `fjord controller` command. */
const HAS_CONTROLLER = /^\s+controller\s/m.test(execFileSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' }))

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const dirs: string[] = []
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'fjord-cluster-test-'))
  dirs.push(d)
  return d
}
const clusters: LocalCluster[] = []
after(async () => {
  for (const c of clusters) await c.stop({ force: true }).catch(() => {})
  if (process.env.KEEP_TEST_DATA !== '1') for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const fast: ClusterOptions = {
  backoff: { initialMs: 100, maxMs: 1_000 },
  healthCheck: false,
  readyTimeoutMs: 20_000,
  stopTimeoutMs: 10_000,
}

async function newCluster(brokers: number, options: ClusterOptions = {}): Promise<LocalCluster> {
  const c = await LocalCluster.create({ name: 'sup', dataDir: tempDir(), brokers, zones: 3, metadata: { mode: 'standalone' } }, { ...fast, ...options })
  clusters.push(c)
  return c
}

describe('local cluster', () => {
  it('starts three brokers in three zones, each with its own port, data dir and rack', async () => {
    const h = await startCluster({ brokers: 3, zones: 3, metadata: { mode: 'standalone' } })
    try {
      await h.explain(async () => {
        const st = h.cluster.status()
        assert.deepEqual(st.map((p) => [p.role, p.id, p.zone, p.state]), [
          ['broker', 1, 'az-1', 'running'],
          ['broker', 2, 'az-2', 'running'],
          ['broker', 3, 'az-3', 'running'],
        ])
        assert.equal(new Set(st.map((p) => p.port)).size, 3)
        assert.equal(new Set(st.map((p) => p.pid)).size, 3)
        assert.equal(h.bootstrap, st.map((p) => `127.0.0.1:${p.port}`).join(','))
        for (const p of st) {
          assert.equal(p.dataDir, path.join(h.dataDir, `broker-${p.id}`))
          assert.match(readFileSync(p.logFile, 'utf8'), new RegExp(`Fjord broker ${p.id} ready: bootstrap 127\\.0\\.0\\.1:${p.port}`))
          // The broker itself reports its id and zone.
          const client = await KafkaClient.connect(p.address, { requestTimeoutMs: 5_000 })
          try {
            const md = await client.metadata([])
            const me = md.brokers.find((b) => b.port === p.port)
            assert.ok(me, `broker ${p.id} lists itself`)
            assert.equal(me.nodeId, p.id)
            assert.equal(me.rack, p.zone)
          } finally {
            await client.close()
          }
        }
        const file = readClusterFile(h.dataDir)
        assert.deepEqual(file.brokers.map((b) => [b.id, b.port, b.pid, b.wanted]), st.map((p) => [p.id, p.port, p.pid, true]))
        assert.equal(file.supervisorPid, process.pid)
      })
    } finally {
      await h.stop()
    }
    assert.ok(!existsSync(h.dataDir) || process.env.KEEP_TEST_DATA === '1', 'helper removed its data dir')
  })

  it('restarts a SIGKILLed broker on the same port, with back-off', async () => {
    const c = await newCluster(2)
    const exits: ExitEvent[] = []
    c.on('exit', (e) => exits.push(e))
    await c.start()
    const before = c.process(2)
    let readyAgain = false
    c.on('ready', (e) => {
      if (e.id === 2) readyAgain = true
    })
    await c.kill(2, 'SIGKILL')
    assert.equal(exits.length, 1)
    assert.deepEqual([exits[0]!.id, exits[0]!.signal, exits[0]!.expected, exits[0]!.action], [2, 'SIGKILL', false, 'restart'])
    assert.equal(c.process(2).state, 'restarting')
    await waitFor('broker 2 ready again', () => readyAgain)
    const now = c.process(2)
    assert.equal(now.state, 'running')
    assert.equal(now.port, before.port)
    assert.notEqual(now.pid, before.pid)
    assert.equal(now.restarts, 1)
    assert.ok(await probe('kafka', '127.0.0.1', now.port, 2_000), 'answers ApiVersions on its old port')
    assert.equal(c.process(1).pid, c.status()[0]!.pid, 'broker 1 untouched')
    // A second crash waits twice as long.
    const delays: number[] = []
    c.on('restart', (e) => delays.push(e.delayMs))
    await c.kill(2)
    await waitFor('second restart', () => c.process(2).state === 'running' && c.process(2).restarts === 2)
    assert.deepEqual(delays, [200])
    await c.stop()
  })

  it('leaves a crashed broker down without autoRestart, until restart()', async () => {
    const h = await startCluster({ brokers: 2, zones: 2, metadata: { mode: 'standalone' } })
    try {
      const port = h.broker(1).port
      await h.kill(1, 'SIGKILL')
      await new Promise((r) => setTimeout(r, 800))
      const st = h.broker(1)
      assert.equal(st.state, 'exited')
      assert.equal(st.pid, null)
      assert.equal(st.lastExit?.signal, 'SIGKILL')
      assert.equal(st.lastExit?.expected, false)
      assert.equal(h.broker(2).state, 'running')
      assert.match(h.logTail(1, 5), /exited code=null signal=SIGKILL/)
      await h.restart(1)
      assert.equal(h.broker(1).state, 'running')
      assert.equal(h.broker(1).port, port)
      assert.equal(h.broker(1).restarts, 0, 'asked-for restarts are not counted')
    } finally {
      await h.stop()
    }
  })

  it('stop() leaves no process behind, and start() brings the cluster back on the same ports', async () => {
    const c = await newCluster(3)
    await c.start()
    const pids = c.status().map((p) => p.pid!)
    const bootstrap = c.bootstrap
    await c.stop()
    for (const pid of pids) assert.ok(!isAlive(pid), `pid ${pid} gone`)
    assert.ok(c.status().every((p) => p.state === 'stopped' && p.pid === null && p.lastExit?.code === 0 && p.lastExit.expected))
    const file = readClusterFile(c.dataDir)
    assert.ok(file.brokers.every((b) => b.pid === null && !b.wanted))
    assert.equal(file.supervisorPid, null)
    await c.start()
    assert.equal(c.bootstrap, bootstrap)
    assert.ok(c.status().every((p) => p.state === 'running'))
    await c.stop()
  })

  it('adopts the processes of a supervisor that went away, and supervises them again', async () => {
    const dataDir = tempDir()
    // A "control plane" process starts a cluster and exits without stopping it.
    const script = `
      const { LocalCluster } = await import(process.argv[1])
      const c = await LocalCluster.create({ name: 'adopted', dataDir: process.argv[2], brokers: 2, zones: 2, metadata: { mode: 'standalone' } })
      await c.start()
      process.stdout.write(JSON.stringify(c.status().map((p) => p.pid)))
      process.exit(0)`
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script, MODULE, dataDir], { timeout: 30_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    )
    const pids = JSON.parse(out) as number[]
    assert.ok(pids.every(isAlive), 'brokers outlive their supervisor')

    const c = await LocalCluster.adopt(dataDir, { ...fast, autoRestart: true, livenessPollMs: 100 })
    clusters.push(c)
    assert.deepEqual(c.status().map((p) => [p.id, p.pid, p.state, p.adopted]), [
      [1, pids[0], 'running', true],
      [2, pids[1], 'running', true],
    ])
    assert.equal(readClusterFile(dataDir).supervisorPid, process.pid)
    await assert.rejects(LocalCluster.adopt(dataDir), /already supervises/)

    // A crash of an adopted process is seen by polling (no exit code) and restarted.
    const port = c.process(1).port
    const exits: ExitEvent[] = []
    c.on('exit', (e) => exits.push(e))
    process.kill(pids[0]!, 'SIGKILL')
    // (More than one restart is possible: the killed process may linger as a zombie for a moment,
    // and a standalone broker's metadata lock refuses to start while its pid looks alive.)
    await waitFor('adopted broker 1 restarted', () => c.process(1).state === 'running' && c.process(1).restarts >= 1)
    const b1 = c.process(1)
    assert.equal(b1.port, port)
    assert.equal(b1.adopted, false)
    assert.deepEqual([exits[0]?.id, exits[0]?.pid, exits[0]?.known, exits[0]?.code, exits[0]?.action], [1, pids[0], false, null, 'restart'])

    // Detach, adopt again in this process, stop: nothing left.
    c.detach()
    assert.equal(readClusterFile(dataDir).supervisorPid, null)
    const again = await LocalCluster.adopt(dataDir, fast)
    clusters.push(again)
    const live = again.status().map((p) => p.pid!)
    assert.deepEqual(live, [b1.pid, pids[1]])
    assert.ok(again.status().every((p) => p.state === 'running'))
    await again.stop()
    for (const pid of live) assert.ok(!isAlive(pid), `pid ${pid} gone`)
  })

  it('wipeVolume empties a broker data dir (keeping its log) and starts it again', async () => {
    const c = await newCluster(2)
    await c.start()
    const before = c.process(1)
    writeFileSync(path.join(before.dataDir, 'marker'), 'x')
    await c.wipeVolume(1)
    const now = c.process(1)
    assert.equal(now.state, 'running')
    assert.equal(now.port, before.port)
    assert.notEqual(now.pid, before.pid)
    assert.ok(!existsSync(path.join(before.dataDir, 'marker')))
    const log = readFileSync(now.logFile, 'utf8')
    assert.equal(log.match(/Fjord broker 1 ready/g)?.length, 2, 'process.log survives the wipe')
    assert.match(log, /volume wiped/)
    // A stopped broker's volume stays stopped.
    await c.stopProcess(2)
    await c.wipeVolume(2)
    assert.equal(c.process(2).state, 'stopped')
    await c.stop()
  })

  it('SIGKILLs and restarts a hung broker that stops answering health checks', async () => {
    const c = await newCluster(1, { autoRestart: true, healthCheck: { intervalMs: 150, timeoutMs: 300, failures: 2 } })
    const unhealthy: number[] = []
    c.on('unhealthy', (e) => unhealthy.push(e.id))
    await c.start()
    const pid = c.process(1).pid!
    await c.kill(1, 'SIGSTOP')
    await waitFor('hung broker replaced', () => c.process(1).state === 'running' && c.process(1).pid !== pid)
    assert.deepEqual(unhealthy, [1])
    assert.equal(c.process(1).lastExit?.signal, 'SIGKILL')
    assert.ok(!isAlive(pid))
    await c.stop()
  })

  it('adds and removes brokers', async () => {
    const c = await newCluster(3)
    await c.start()
    const id = await c.addBroker()
    assert.equal(id, 4)
    const b4 = c.process(4)
    assert.deepEqual([b4.zone, b4.state], ['az-1', 'running'])
    assert.ok(c.bootstrap.endsWith(`,127.0.0.1:${b4.port}`))
    assert.equal(await c.addBroker({ zone: 'az-3' }), 5)
    assert.equal(c.process(5).zone, 'az-3')
    await c.removeBroker(4)
    assert.ok(!isAlive(b4.pid!))
    assert.deepEqual(c.brokerIds, [1, 2, 3, 5])
    assert.deepEqual(readClusterFile(c.dataDir).brokers.map((b) => b.id), [1, 2, 3, 5])
    assert.ok(existsSync(b4.dataDir), 'data kept by default')
    // Ids are not reused while a removed broker's directory remains.
    await c.stopProcess(5)
    assert.equal(await c.addBroker(), 6)
    await c.stop()
  })

  it('start() fails with the tail of the failing process log, and stops the rest', async () => {
    const dataDir = tempDir()
    const c = await LocalCluster.create(
      { name: 'bad', dataDir, brokers: 2, zones: 1, metadata: { mode: 'standalone' }, brokerSettings: { 'num.partitions': 'many' } },
      fast,
    )
    clusters.push(c)
    await assert.rejects(c.start(), (err: Error) => {
      assert.match(err.message, /broker \d of cluster bad exited before it was ready \(code 1/)
      assert.match(err.message, /num\.partitions=many: must be an integer/)
      return true
    })
    assert.ok(c.status().every((p) => p.pid === null && p.state !== 'running'))
  })

  it('runs a controller first and brokers that register with it, each with its rack', { skip: !HAS_CONTROLLER && 'no fjord controller command in this build' }, async () => {
    const c = await LocalCluster.create(
      { name: 'ctl', dataDir: tempDir(), brokers: 3, zones: 3, metadata: { mode: 'embedded' }, clusterId: 'LocalClusterTest00000w' },
      { ...fast, stopTimeoutMs: 5_000 },
    )
    clusters.push(c)
    await c.start()
    assert.deepEqual(c.status().map((p) => [p.role, p.id, p.state]), [
      ['controller', 1001, 'running'],
      ['broker', 1, 'running'],
      ['broker', 2, 'running'],
      ['broker', 3, 'running'],
    ])
    assert.match(readFileSync(c.process({ role: 'controller', id: 1001 }).logFile, 'utf8'), /Fjord controller 1001 ready/)
    const client = await KafkaClient.connect(c.bootstrap, { requestTimeoutMs: 5_000 })
    try {
      let md = await client.metadata([])
      for (let i = 0; md.brokers.length < 3 && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 50))
        md = await client.metadata([])
      }
      assert.deepEqual(
        md.brokers.map((b) => [b.nodeId, b.port, b.rack]).sort(),
        c.status().filter((p) => p.role === 'broker').map((p) => [p.id, p.port, p.zone]),
      )
      assert.equal(md.clusterId, 'LocalClusterTest00000w')
    } finally {
      await client.close()
    }
    await c.stop()
    assert.ok(c.status().every((p) => p.pid === null && p.state === 'stopped'))
  })

  it('rejects bad specs', async () => {
    const base = { name: 'x', brokers: 1, zones: 1, metadata: { mode: 'standalone' as const } }
    await assert.rejects(LocalCluster.create({ ...base, dataDir: tempDir(), brokerSettings: { listeners: 'x:1' } }), /set by the launcher/)
    await assert.rejects(LocalCluster.create({ ...base, dataDir: tempDir(), brokers: 2, brokerIds: [1, 1] }), /duplicate ids/)
    await assert.rejects(LocalCluster.create({ ...base, dataDir: tempDir(), metadata: { mode: 'zookeeper', connect: '', controllers: 3 } }), /connect string/)
    const dir = tempDir()
    const c = await LocalCluster.create({ ...base, dataDir: dir })
    c.detach()
    await assert.rejects(LocalCluster.create({ ...base, dataDir: dir }), /already holds a cluster/)
    const used = tempDir()
    writeFileSync(path.join(used, 'greetings-0'), '')
    await assert.rejects(LocalCluster.create({ ...base, dataDir: used }), /not empty/)
    // A port base below the ephemeral range (32768+), so concurrent tests' connections cannot take it.
    let portBase = 0
    for (let tries = 0; portBase === 0 && tries < 50; tries++) {
      const candidate = 20_000 + Math.floor(Math.random() * 12_000)
      const free = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => isPortFree('127.0.0.1', candidate + i)))
      if (free.every(Boolean)) portBase = candidate
    }
    assert.ok(portBase > 0, 'no six consecutive free ports found')
    const zk = await LocalCluster.create({ ...base, dataDir: tempDir(), brokers: 3, metadata: { mode: 'zookeeper', connect: '127.0.0.1:2181/fjord', controllers: 3 }, ports: { base: portBase } })
    assert.deepEqual(zk.controllerIds, [1001, 1002, 1003])
    const at = (i: number) => `127.0.0.1:${portBase + i}`
    assert.equal(zk.controllerEndpoints, [at(3), at(4), at(5)].join(','))
    assert.equal(zk.bootstrap, [at(0), at(1), at(2)].join(','))
    zk.detach()
  })
})
