// A ZooKeeper ensemble per cluster whose Kafka version is not `*.kraft`, as MSK runs one for
// those: three nodes (so losing any one keeps a quorum), each Debian's zookeeper package run with
// java, detached (its own session, output in <node dir>/zookeeper.log), under
// <cluster>/zookeeper/node-<id>/ with its myid. Their pids live in the cluster's runtime; a node
// that dies is restarted by the reconciler and rejoins the quorum (an emptied node resyncs from
// the leader). Where java or the jars are missing the caller falls back to the embedded controller
// and says so (zookeeperUnavailable).

import { spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import path from 'node:path'
import { isAlive } from '../cluster/pids.js'

const CLASSPATH = '/usr/share/java/*:/usr/share/zookeeper/*'
const ZK_JAR = '/usr/share/java/zookeeper.jar'
const MAIN_CLASS = 'org.apache.zookeeper.server.quorum.QuorumPeerMain'
/** MSK's ensembles have three nodes. */
export const ENSEMBLE_SIZE = 3
/** Ports each node needs: clients, followers to the leader, leader election. */
export const PORTS_PER_NODE = 3

export interface ZooKeeperNodeRuntime {
  /** Its myid, 1-based. */
  id: number
  dir: string
  clientPort: number
  /** 0 for a standalone node (an ensemble of one). */
  quorumPort: number
  electionPort: number
  pid: number | null
}

export interface ZooKeeperRuntime {
  /** host:port of every node, comma-separated: the zookeeperConnectString. */
  connect: string
  dataDir: string
  nodes: ZooKeeperNodeRuntime[]
}

let availability: string | null | undefined

/** null when ZooKeeper can run here; otherwise why not. Checked once per process. */
export function zookeeperUnavailable(): string | null {
  if (availability !== undefined) return availability
  if (!existsSync(ZK_JAR)) availability = `ZooKeeper is not installed (${ZK_JAR} missing; Debian package zookeeper)`
  else if (spawnSync('java', ['-version'], { stdio: 'ignore' }).status !== 0) availability = 'java is not installed'
  else availability = null
  return availability
}

/** The ensemble a new cluster gets under `dir`, given PORTS_PER_NODE ports for each node. */
export function planEnsemble(dir: string, host: string, ports: readonly number[], size = ENSEMBLE_SIZE): ZooKeeperRuntime {
  if (ports.length !== size * PORTS_PER_NODE) throw new Error(`an ensemble of ${size} needs ${size * PORTS_PER_NODE} ports`)
  const nodes = Array.from({ length: size }, (_, i): ZooKeeperNodeRuntime => ({
    id: i + 1,
    dir: path.join(dir, `node-${i + 1}`),
    clientPort: ports[i * PORTS_PER_NODE]!,
    quorumPort: size === 1 ? 0 : ports[i * PORTS_PER_NODE + 1]!,
    electionPort: size === 1 ? 0 : ports[i * PORTS_PER_NODE + 2]!,
    pid: null,
  }))
  return { connect: nodes.map((n) => `${host}:${n.clientPort}`).join(','), dataDir: dir, nodes }
}

/**
 * The ensemble of a runtime as stored. A cluster created before ensembles (one standalone
 * ZooKeeper: `{connect, port, dataDir, pid}`) reads as an ensemble of that one node.
 */
export function ensembleOf(stored: unknown): ZooKeeperRuntime {
  const zk = stored as Partial<ZooKeeperRuntime> & { port?: number; pid?: number | null }
  if (Array.isArray(zk.nodes)) return zk as ZooKeeperRuntime
  const node: ZooKeeperNodeRuntime = { id: 1, dir: zk.dataDir!, clientPort: zk.port!, quorumPort: 0, electionPort: 0, pid: zk.pid ?? null }
  return { connect: zk.connect!, dataDir: zk.dataDir!, nodes: [node] }
}

/** Every port the ensemble listens on. */
export function ensemblePorts(zk: ZooKeeperRuntime): number[] {
  return zk.nodes.flatMap((n) => [n.clientPort, n.quorumPort, n.electionPort]).filter((p) => p > 0)
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
  } catch {
    return ''
  }
}

/** Whether `pid` is the ZooKeeper node of `dir` (alive, and its command line names dir's zoo.cfg). */
export function isOurZooKeeper(pid: number | null, dir: string): boolean {
  return pid !== null && isAlive(pid) && cmdline(pid).includes(path.join(dir, 'zoo.cfg'))
}

/** The node's `srvr` Mode (leader, follower, standalone), or null when it does not serve. */
export function zookeeperMode(host: string, port: number, timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    let out = ''
    const s = connect({ host, port })
    const done = () => {
      clearTimeout(timer)
      s.destroy()
      resolve(/^Mode: *(\S+)/m.exec(out)?.[1] ?? null)
    }
    const timer = setTimeout(done, timeoutMs)
    s.once('connect', () => s.write('srvr'))
    s.on('data', (d) => (out += d.toString()))
    s.once('end', done)
    s.once('error', done)
  })
}

function configOf(zk: ZooKeeperRuntime, node: ZooKeeperNodeRuntime, host: string): string {
  const lines = [
    `dataDir=${path.join(node.dir, 'data')}`,
    `clientPort=${node.clientPort}`,
    `clientPortAddress=${host}`,
    'tickTime=2000',
    'initLimit=10',
    'syncLimit=5',
    'minSessionTimeout=1000',
    'maxSessionTimeout=120000',
    'maxClientCnxns=0',
    'admin.enableServer=false',
    '4lw.commands.whitelist=ruok,srvr',
  ]
  if (zk.nodes.length > 1) {
    for (const n of zk.nodes) lines.push(`server.${n.id}=${host}:${n.quorumPort}:${n.electionPort}`)
  }
  return lines.join('\n') + '\n'
}

/**
 * Starts one node unless one of ours already runs in its dir; resolves with its pid without
 * waiting for it to serve (a member of an ensemble serves only once a quorum runs).
 */
export function startZooKeeperNode(zk: ZooKeeperRuntime, host: string, node: ZooKeeperNodeRuntime): number {
  const why = zookeeperUnavailable()
  if (why) throw new Error(why)
  if (isOurZooKeeper(node.pid, node.dir)) return node.pid!
  const pidFile = path.join(node.dir, 'zookeeper.pid')
  if (existsSync(pidFile)) {
    const old = Number(readFileSync(pidFile, 'utf8').trim())
    if (isOurZooKeeper(old, node.dir)) return old
  }
  mkdirSync(path.join(node.dir, 'data'), { recursive: true })
  // A lost data dir comes back with its myid: the node rejoins and resyncs from the leader.
  if (zk.nodes.length > 1) writeFileSync(path.join(node.dir, 'data', 'myid'), `${node.id}\n`)
  const cfg = path.join(node.dir, 'zoo.cfg')
  writeFileSync(cfg, configOf(zk, node, host))
  const fd = openSync(path.join(node.dir, 'zookeeper.log'), 'a')
  let pid: number | undefined
  try {
    // A small heap and the client compiler: the ensemble holds a few hundred znodes, and three
    // JVMs warming up with C2 would take the cores the brokers start on.
    const jvm = ['-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Dzookeeper.jmx.log4j.disable=true']
    const child = spawn('java', [...jvm, '-cp', CLASSPATH, MAIN_CLASS, cfg], { detached: true, stdio: ['ignore', fd, fd] })
    child.unref()
    child.on('error', () => {})
    pid = child.pid
  } finally {
    closeSync(fd)
  }
  if (!pid) throw new Error('could not start java for ZooKeeper')
  writeFileSync(pidFile, `${pid}\n`)
  return pid
}

/** Starts every node that does not run and waits until each serves; resolves with their pids, in node order. */
export async function startEnsemble(zk: ZooKeeperRuntime, host: string, timeoutMs = 60_000): Promise<number[]> {
  const pids = zk.nodes.map((n) => startZooKeeperNode(zk, host, n))
  const deadline = Date.now() + timeoutMs
  await Promise.all(zk.nodes.map((n, i) => waitServing(host, n, pids[i]!, deadline)))
  return pids
}

async function waitServing(host: string, node: ZooKeeperNodeRuntime, pid: number, deadline: number): Promise<void> {
  const log = path.join(node.dir, 'zookeeper.log')
  for (;;) {
    if (!isAlive(pid)) throw new Error(`ZooKeeper node ${node.id} (pid ${pid}) exited at start; see ${log}`)
    if ((await zookeeperMode(host, node.clientPort)) !== null) return
    if (Date.now() > deadline) throw new Error(`ZooKeeper node ${node.id} did not serve ${host}:${node.clientPort} in time; see ${log}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Whether every node runs and serves (is part of a quorum). */
export async function ensembleServes(zk: ZooKeeperRuntime, host: string): Promise<boolean> {
  const modes = await Promise.all(zk.nodes.map((n) => zookeeperMode(host, n.clientPort)))
  return modes.every((m) => m !== null)
}

/** SIGTERM to each node, then SIGKILL after `timeoutMs`; nothing for a node that does not run. */
export async function stopEnsemble(zk: ZooKeeperRuntime, timeoutMs = 5_000): Promise<void> {
  await Promise.all(zk.nodes.map((n) => stopNode(n, timeoutMs)))
}

async function stopNode(node: ZooKeeperNodeRuntime, timeoutMs: number): Promise<void> {
  const pid = node.pid
  if (pid !== null && isOurZooKeeper(pid, node.dir)) {
    try { process.kill(pid, 'SIGTERM') } catch { /* gone */ }
    const deadline = Date.now() + timeoutMs
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    if (isAlive(pid)) {
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
      while (isAlive(pid)) await new Promise((r) => setTimeout(r, 20))
    }
  }
  rmSync(path.join(node.dir, 'zookeeper.pid'), { force: true })
}
