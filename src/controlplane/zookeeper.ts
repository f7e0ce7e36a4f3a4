// One standalone ZooKeeper per cluster whose Kafka version is not `*.kraft` (as MSK runs a
// ZooKeeper ensemble for those): Debian's zookeeper package run with java, detached (its own
// session, output in <dir>/zookeeper.log), its pid kept in <dir>/zookeeper.pid and in the
// cluster's runtime, adopted again when the control plane restarts. Where java or the jars are
// missing the caller falls back to the embedded controller and says so (zookeeperAvailable).

import { spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import path from 'node:path'
import { isAlive } from '../cluster/pids.js'

const CLASSPATH = '/usr/share/java/*:/usr/share/zookeeper/*'
const ZK_JAR = '/usr/share/java/zookeeper.jar'
const MAIN_CLASS = 'org.apache.zookeeper.server.quorum.QuorumPeerMain'

export interface ZooKeeperRuntime {
  connect: string
  port: number
  dataDir: string
  pid: number | null
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

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
  } catch {
    return ''
  }
}

/** Whether `pid` is the ZooKeeper started in `dir` (alive, and its command line names dir's zoo.cfg). */
export function isOurZooKeeper(pid: number, dir: string): boolean {
  return isAlive(pid) && cmdline(pid).includes(path.join(dir, 'zoo.cfg'))
}

/** Resolves true once the server answers `srvr` with a Mode line. */
function answers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    let out = ''
    const s = connect({ host, port })
    const done = (ok: boolean) => {
      clearTimeout(timer)
      s.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    s.once('connect', () => s.write('srvr'))
    s.on('data', (d) => (out += d.toString()))
    s.once('end', () => done(/^Mode:/m.test(out)))
    s.once('error', () => done(false))
  })
}

/** Starts a ZooKeeper in `dir` on host:port (nothing if one of ours already runs there); resolves with its pid once it serves. */
export async function startZooKeeper(dir: string, host: string, port: number, timeoutMs = 30_000): Promise<number> {
  const why = zookeeperUnavailable()
  if (why) throw new Error(why)
  mkdirSync(path.join(dir, 'data'), { recursive: true })
  const pidFile = path.join(dir, 'zookeeper.pid')
  if (existsSync(pidFile)) {
    const old = Number(readFileSync(pidFile, 'utf8').trim())
    if (old > 0 && isOurZooKeeper(old, dir)) {
      await waitServing(host, port, old, dir, timeoutMs)
      return old
    }
  }
  const cfg = path.join(dir, 'zoo.cfg')
  writeFileSync(cfg, [
    `dataDir=${path.join(dir, 'data')}`,
    `clientPort=${port}`,
    `clientPortAddress=${host}`,
    'tickTime=2000',
    'minSessionTimeout=1000',
    'maxSessionTimeout=120000',
    'maxClientCnxns=0',
    'admin.enableServer=false',
    '4lw.commands.whitelist=ruok,srvr',
    '',
  ].join('\n'))
  const fd = openSync(path.join(dir, 'zookeeper.log'), 'a')
  let pid: number | undefined
  try {
    const child = spawn('java', ['-Xmx256m', '-Dzookeeper.jmx.log4j.disable=true', '-cp', CLASSPATH, MAIN_CLASS, cfg], { detached: true, stdio: ['ignore', fd, fd] })
    child.unref()
    child.on('error', () => {})
    pid = child.pid
  } finally {
    closeSync(fd)
  }
  if (!pid) throw new Error('could not start java for ZooKeeper')
  writeFileSync(pidFile, `${pid}\n`)
  await waitServing(host, port, pid, dir, timeoutMs)
  return pid
}

async function waitServing(host: string, port: number, pid: number, dir: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (!isAlive(pid)) throw new Error(`ZooKeeper (pid ${pid}) exited at start; see ${path.join(dir, 'zookeeper.log')}`)
    if (await answers(host, port)) return
    if (Date.now() > deadline) throw new Error(`ZooKeeper did not serve ${host}:${port} within ${timeoutMs} ms; see ${path.join(dir, 'zookeeper.log')}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** SIGTERM, then SIGKILL after `timeoutMs`; nothing when it does not run. Removes the pid file. */
export async function stopZooKeeper(dir: string, pid: number | null, timeoutMs = 5_000): Promise<void> {
  if (pid !== null && isOurZooKeeper(pid, dir)) {
    try { process.kill(pid, 'SIGTERM') } catch { /* gone */ }
    const deadline = Date.now() + timeoutMs
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    if (isAlive(pid)) {
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
      while (isAlive(pid)) await new Promise((r) => setTimeout(r, 20))
    }
  }
  rmSync(path.join(dir, 'zookeeper.pid'), { force: true })
}
