// The ZooKeeper ensemble the control plane runs for a non-KRaft cluster, with Debian's ZooKeeper:
// three nodes form a quorum (one leader, two followers); with the leader killed the other two
// elect a new one and keep every znode; a node whose data directory was lost is started again and
// resyncs from the leader (a znode written before is readable from it alone); stopping ends every
// node. And the record of a cluster created before ensembles reads as an ensemble of one.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import zookeeper from 'node-zookeeper-client'
import { isAlive } from '../cluster/pids.js'
import { allocatePorts } from '../cluster/ports.js'
import {
  ENSEMBLE_SIZE,
  PORTS_PER_NODE,
  ensembleOf,
  ensemblePorts,
  planEnsemble,
  startEnsemble,
  startZooKeeperNode,
  stopEnsemble,
  zookeeperMode,
  zookeeperUnavailable,
  type ZooKeeperRuntime,
} from './zookeeper.js'

const HOST = '127.0.0.1'

function withClient<T>(connect: string, fn: (c: zookeeper.Client) => Promise<T>): Promise<T> {
  const client = zookeeper.createClient(connect, { sessionTimeout: 10_000, retries: 0 })
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => (client.close(), reject(new Error(`no ZooKeeper session with ${connect}`))), 20_000)
    client.once('connected', () => {
      clearTimeout(timer)
      fn(client).then(resolve, reject).finally(() => client.close())
    })
    client.connect()
  })
}

const create = (c: zookeeper.Client, p: string, data: string) =>
  new Promise<void>((resolve, reject) => c.create(p, Buffer.from(data), (err) => (err ? reject(err) : resolve())))
const read = (c: zookeeper.Client, p: string) =>
  new Promise<string>((resolve, reject) => c.getData(p, (err, data) => (err ? reject(err) : resolve(data.toString()))))

async function modes(zk: ZooKeeperRuntime): Promise<(string | null)[]> {
  return Promise.all(zk.nodes.map((n) => zookeeperMode(HOST, n.clientPort)))
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('ZooKeeper ensemble', { timeout: 120_000 }, () => {
  let dir: string
  let zk: ZooKeeperRuntime

  before(async () => {
    assert.equal(zookeeperUnavailable(), null, 'needs java and ZooKeeper (scripts/install-test-deps.sh installs them)')
    dir = mkdtempSync(path.join(tmpdir(), 'fjord-zk-ensemble-'))
    zk = planEnsemble(dir, HOST, await allocatePorts(HOST, ENSEMBLE_SIZE * PORTS_PER_NODE, new Set()))
  })

  after(async () => {
    await stopEnsemble(zk)
    rmSync(dir, { recursive: true, force: true })
  })

  it('plans three nodes with their own ports, all in the connect string', () => {
    assert.equal(zk.nodes.length, 3)
    assert.equal(new Set(ensemblePorts(zk)).size, 9)
    assert.equal(zk.connect, zk.nodes.map((n) => `${HOST}:${n.clientPort}`).join(','))
    assert.deepEqual(zk.nodes.map((n) => path.basename(n.dir)), ['node-1', 'node-2', 'node-3'])
  })

  it('starts a quorum: one leader, two followers; starting again adopts the same processes', async () => {
    const pids = await startEnsemble(zk, HOST)
    zk.nodes.forEach((n, i) => (n.pid = pids[i]!))
    assert.deepEqual((await modes(zk)).sort(), ['follower', 'follower', 'leader'])
    assert.deepEqual(await startEnsemble(zk, HOST), pids)
    await withClient(zk.connect, (c) => create(c, '/fjord-test', 'written with three nodes'))
  })

  it('the leader killed: the other two elect a new one and keep the data; restarted, it rejoins', async () => {
    const leader = zk.nodes[(await modes(zk)).indexOf('leader')]!
    process.kill(leader.pid!, 'SIGKILL')
    const others = zk.nodes.filter((n) => n !== leader)
    await until('a new leader among the other two', async () => (await Promise.all(others.map((n) => zookeeperMode(HOST, n.clientPort)))).includes('leader'))
    const survivor = others.map((n) => `${HOST}:${n.clientPort}`).join(',')
    assert.equal(await withClient(survivor, (c) => read(c, '/fjord-test')), 'written with three nodes')
    await until('the old leader dead', async () => !isAlive(leader.pid!))
    leader.pid = startZooKeeperNode(zk, HOST, leader)
    await until('the restarted node serving', async () => (await zookeeperMode(HOST, leader.clientPort)) !== null)
    assert.deepEqual((await modes(zk)).sort(), ['follower', 'follower', 'leader'])
  })

  it('a node whose data was lost resyncs from the leader', async () => {
    const node = zk.nodes.find((n) => n.id === 2)!
    process.kill(node.pid!, 'SIGKILL')
    await until('node 2 dead', async () => !isAlive(node.pid!))
    rmSync(path.join(node.dir, 'data'), { recursive: true, force: true })
    node.pid = startZooKeeperNode(zk, HOST, node)
    await until('node 2 serving again', async () => (await zookeeperMode(HOST, node.clientPort)) !== null)
    assert.equal(await withClient(`${HOST}:${node.clientPort}`, (c) => read(c, '/fjord-test')), 'written with three nodes')
  })

  it('stops every node', async () => {
    const pids = zk.nodes.map((n) => n.pid!)
    await stopEnsemble(zk)
    for (const pid of pids) assert.ok(!isAlive(pid), `pid ${pid} stopped`)
    assert.deepEqual(await modes(zk), [null, null, null])
  })
})

describe('ZooKeeper runtime of a cluster created before ensembles', () => {
  it('reads as an ensemble of one standalone node in the old directory', () => {
    const zk = ensembleOf({ connect: '127.0.0.1:2181', port: 2181, dataDir: '/data/c/zookeeper', pid: 42 })
    assert.deepEqual(zk, {
      connect: '127.0.0.1:2181',
      dataDir: '/data/c/zookeeper',
      nodes: [{ id: 1, dir: '/data/c/zookeeper', clientPort: 2181, quorumPort: 0, electionPort: 0, pid: 42 }],
    })
    assert.deepEqual(ensemblePorts(zk), [2181])
    assert.equal(ensembleOf(zk), zk, 'an ensemble reads as itself')
  })
})
