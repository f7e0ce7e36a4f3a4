// LocalCluster: a controller (or several, with ZooKeeper) and N brokers as separate OS processes
// on this machine, each with its own data directory, and a supervisor that restarts processes
// that exit without being asked to. See README.md in this directory.
//
// Processes are started detached (their own session) with stdout and stderr appended straight to
// `<dir>/process.log`, so they outlive the supervisor: a new LocalCluster can adopt them from
// `cluster.json` (pids) and supervise them again. Readiness is read from the log: the
// `Fjord broker <id> ready` / `Fjord controller <id> ready` line printed after the spawn.

import { spawn, type ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { probe, type ProbeKind } from './health.js'
import { isAlive, isOurProcess } from './pids.js'
import { allocatePorts, assertPortsFree, isPortFree } from './ports.js'
import {
  FIRST_CONTROLLER_ID,
  MANAGED_BROKER_SETTINGS,
  checkIds,
  checkPort,
  controllerCount,
  hasClusterFile,
  readClusterFile,
  writeClusterFile,
  zoneNames,
  type ClusterFile,
  type ClusterSpec,
  type MemberRecord,
  type MetadataSpec,
  type Role,
} from './spec.js'

export type { ClusterSpec, MetadataSpec, PortsSpec, Role } from './spec.js'

export type ProcessState = 'starting' | 'running' | 'stopping' | 'exited' | 'restarting' | 'stopped'

export interface ExitInfo {
  code: number | null
  signal: string | null
  /** ISO time the exit was noticed. */
  at: string
  /** Whether the exit was asked for (stop, restart, wipeVolume). */
  expected: boolean
  /** False for an adopted process: it is not our child, so only its disappearance is seen. */
  known: boolean
}

export interface ProcessStatus {
  role: Role
  id: number
  zone: string | null
  host: string
  port: number
  /** host:port */
  address: string
  pid: number | null
  state: ProcessState
  /** Restarts by the supervisor (not those asked for with restart()). */
  restarts: number
  lastExit: ExitInfo | null
  /** Milliseconds since it printed ready (or was adopted), while running. */
  uptimeMs: number | null
  adopted: boolean
  dataDir: string
  logFile: string
}

/** A broker id, or a process of either role. */
export type MemberRef = number | { role: Role; id: number }

/** pino-compatible. */
export interface ClusterLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface HealthCheckOptions {
  /** Default 5000. */
  intervalMs?: number
  /** One probe's deadline; default 2000. */
  timeoutMs?: number
  /** Consecutive failed probes of a running process before it is treated as hung; default 3. */
  failures?: number
  /** 'kafka' (ApiVersions, default) or 'tcp' (connect only). Controllers get a TCP connect. */
  brokerProbe?: ProbeKind
}

export interface ClusterOptions {
  /** Restart processes that exit without being asked to; default true. */
  autoRestart?: boolean
  /** Back-off between restarts of one process: initial, doubled to max, reset after staying up. */
  backoff?: { initialMs?: number; maxMs?: number; resetAfterMs?: number }
  /** Probes of running processes; false turns them off. On by default. */
  healthCheck?: false | HealthCheckOptions
  /** How long a process may take to print its ready line; default 60 s. */
  readyTimeoutMs?: number
  /** How long a SIGTERMed process may take to exit before SIGKILL; default 30 s. */
  stopTimeoutMs?: number
  /** How often an adopted process is checked for life; default 1000 ms. */
  livenessPollMs?: number
  /** The fjord entry point; default dist/src/cli/main.js next to this module. */
  entry?: string
  /** Node binary; default process.execPath. */
  nodePath?: string
  /** Arguments for node before the entry point. */
  nodeArgs?: string[]
  /** Extra arguments for every broker / controller (after the launcher's own). */
  brokerArgs?: string[]
  controllerArgs?: string[]
  /** Added to the inherited environment of every process. */
  env?: Record<string, string>
  logger?: ClusterLogger
}

export interface ProcessEvent {
  role: Role
  id: number
  pid: number | null
  address: string
}
export interface ExitEvent extends ProcessEvent, ExitInfo {
  /** What the supervisor does about it. */
  action: 'restart' | 'none'
}
export interface RestartEvent extends ProcessEvent {
  attempt: number
  delayMs: number
}
export interface UnhealthyEvent extends ProcessEvent {
  failures: number
}

export interface ClusterEvents {
  /** A process printed its ready line. */
  ready: [ProcessEvent]
  /** A process exited (asked to or not). */
  exit: [ExitEvent]
  /** The supervisor will start a process again after delayMs. */
  restart: [RestartEvent]
  /** A running process failed `failures` probes in a row (it is SIGKILLed when autoRestart). */
  unhealthy: [UnhealthyEvent]
}

const DEFAULT_ENTRY = fileURLToPath(new URL('../cli/main.js', import.meta.url))
const LOG_FILE = 'process.log'
const READY_POLL_MS = 50
const KILL_GRACE_MS = 10_000

const silentLogger: ClusterLogger = { info() {}, warn() {}, error() {} }

/** One broker or controller and what the supervisor knows about it. */
class Member {
  pid: number | null = null
  child: ChildProcess | null = null
  adopted = false
  state: ProcessState = 'stopped'
  wanted = false
  restarts = 0
  lastExit: ExitInfo | null = null
  readyAt: number | null = null
  backoffMs: number
  restartTimer: NodeJS.Timeout | null = null
  livenessTimer: NodeJS.Timeout | null = null
  /** Set while we wait for an exit we asked for. */
  expectExit = false
  /** Set while start()/restart() wait for the ready line: a failure is theirs to report. */
  holdRestarts = false
  healthFailures = 0
  probing = false
  /** Incremented per process started or adopted; stale exit and ready notices are ignored. */
  gen = 0
  /** Where the ready line is looked for in the log. */
  readOffset = 0
  exited: Promise<void> = Promise.resolve()
  resolveExited: () => void = () => {}
  /** Requested operations on this member run one after another. */
  queue: Promise<unknown> = Promise.resolve()

  constructor(
    readonly role: Role,
    readonly id: number,
    readonly zone: string | null,
    readonly port: number,
    readonly dir: string,
    initialBackoffMs: number,
  ) {
    this.backoffMs = initialBackoffMs
  }

  get logFile(): string {
    return path.join(this.dir, LOG_FILE)
  }

  get label(): string {
    return `${this.role} ${this.id}`
  }
}

function tailOf(file: string, lines: number): string {
  try {
    const size = statSync(file).size
    const len = Math.min(size, 64 * 1024)
    const buf = Buffer.alloc(len)
    const fd = openSync(file, 'r')
    try {
      readSync(fd, buf, 0, len, size - len)
    } finally {
      closeSync(fd)
    }
    const all = buf.toString('utf8').split('\n')
    if (all.length > 0 && all[all.length - 1] === '') all.pop()
    return all.slice(-lines).join('\n')
  } catch (e) {
    return `(no log at ${file}: ${(e as Error).message})`
  }
}

/** Resolves true if `p` settles within `ms`, false otherwise (the timer keeps the process alive). */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([p.then(() => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}

export class LocalCluster extends EventEmitter<ClusterEvents> {
  /** Data directories supervised by a LocalCluster of this process. */
  static readonly #active = new Set<string>()

  readonly name: string
  readonly dataDir: string
  readonly host: string
  readonly zones: readonly string[]
  readonly metadata: MetadataSpec
  #brokerSettings: Record<string, string>
  readonly #controllerSettings: Record<string, string>
  readonly clusterId: string | null
  readonly #portBase: number | null
  readonly #controllers: Member[]
  readonly #brokers = new Map<number, Member>()

  readonly #opts: Required<Omit<ClusterOptions, 'healthCheck' | 'backoff' | 'env' | 'logger'>> & {
    backoff: { initialMs: number; maxMs: number; resetAfterMs: number }
    healthCheck: Required<HealthCheckOptions> | null
    env: Record<string, string>
  }
  readonly #log: ClusterLogger
  #healthTimer: NodeJS.Timeout | null = null
  /** Stops under way (start() may stop while a signal handler stops too). */
  #stopCount = 0
  #detached = false

  private constructor(file: ClusterFile, dataDir: string, options: ClusterOptions) {
    super()
    const b = options.backoff ?? {}
    const h = options.healthCheck
    this.#opts = {
      autoRestart: options.autoRestart ?? true,
      backoff: { initialMs: b.initialMs ?? 500, maxMs: b.maxMs ?? 30_000, resetAfterMs: b.resetAfterMs ?? 60_000 },
      healthCheck:
        h === false
          ? null
          : {
              intervalMs: h?.intervalMs ?? 5_000,
              timeoutMs: h?.timeoutMs ?? 2_000,
              failures: h?.failures ?? 3,
              brokerProbe: h?.brokerProbe ?? 'kafka',
            },
      readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
      stopTimeoutMs: options.stopTimeoutMs ?? 30_000,
      livenessPollMs: options.livenessPollMs ?? 1_000,
      entry: options.entry ?? DEFAULT_ENTRY,
      nodePath: options.nodePath ?? process.execPath,
      nodeArgs: options.nodeArgs ?? [],
      brokerArgs: options.brokerArgs ?? [],
      controllerArgs: options.controllerArgs ?? [],
      env: options.env ?? {},
    }
    this.#log = options.logger ?? silentLogger
    this.name = file.name
    this.dataDir = dataDir
    this.host = file.host
    this.zones = Object.freeze([...file.zones])
    this.metadata = file.metadata
    this.#brokerSettings = { ...file.brokerSettings }
    this.#controllerSettings = { ...(file.controllerSettings ?? {}) }
    this.clusterId = file.clusterId ?? null
    this.#portBase = file.portBase
    const initial = this.#opts.backoff.initialMs
    this.#controllers = file.controllers.map((r) => new Member('controller', r.id, null, r.port, this.#dirOf('controller', r.id), initial))
    for (const r of file.brokers) this.#brokers.set(r.id, new Member('broker', r.id, r.zone, r.port, this.#dirOf('broker', r.id), initial))
  }

  // ---------------------------------------------------------------------------------------------
  // Creating and adopting

  /**
   * A new cluster in `spec.dataDir` (created if missing; it must not hold a cluster.json yet).
   * Chooses the ports and writes cluster.json; starts nothing (call start()).
   */
  static async create(spec: ClusterSpec, options: ClusterOptions = {}): Promise<LocalCluster> {
    const dataDir = path.resolve(spec.dataDir)
    LocalCluster.#claim(dataDir)
    try {
      if (hasClusterFile(dataDir)) throw new Error(`${dataDir} already holds a cluster (cluster.json); adopt it with LocalCluster.adopt()`)
      // Someone else's data (a single broker's partitions, say) must not mix with the cluster's.
      if (existsSync(dataDir) && readdirSync(dataDir).length > 0) throw new Error(`${dataDir} is not empty and holds no cluster (cluster.json)`)
      if (!spec.name) throw new Error('name: required')
      const host = spec.host ?? '127.0.0.1'
      const zones = zoneNames(spec.zones)
      if (!Number.isInteger(spec.brokers) || spec.brokers < 1) throw new Error(`brokers: a positive integer, got ${spec.brokers}`)
      const brokerIds = spec.brokerIds ?? Array.from({ length: spec.brokers }, (_, i) => i + 1)
      checkIds('brokerIds', brokerIds, spec.brokers)
      const nControllers = controllerCount(spec.metadata)
      const controllerIds = spec.controllerIds ?? Array.from({ length: nControllers }, (_, i) => FIRST_CONTROLLER_ID + i)
      checkIds('controllerIds', controllerIds, nControllers)
      const brokerSettings = { ...(spec.brokerSettings ?? {}) }
      for (const k of MANAGED_BROKER_SETTINGS) {
        if (k in brokerSettings) throw new Error(`brokerSettings: '${k}' is set by the launcher`)
      }

      let brokerPorts: (number | undefined)[]
      let controllerPorts: (number | undefined)[]
      let portBase: number | null = null
      const ports = spec.ports
      if (ports && 'base' in ports) {
        portBase = ports.base
        brokerPorts = brokerIds.map((_, i) => ports.base + i)
        controllerPorts = controllerIds.map((_, i) => ports.base + brokerIds.length + i)
      } else {
        brokerPorts = brokerIds.map((_, i) => ports?.brokers?.[i])
        controllerPorts = controllerIds.map((_, i) => ports?.controllers?.[i])
      }
      const fixed = [...brokerPorts, ...controllerPorts].filter((p): p is number => p !== undefined)
      for (const p of fixed) checkPort('ports', p)
      if (new Set(fixed).size !== fixed.length) throw new Error(`ports: the same port twice in ${fixed.join(', ')}`)
      await assertPortsFree(host, fixed)
      const missing = [...brokerPorts, ...controllerPorts].filter((p) => p === undefined).length
      const free = await allocatePorts(host, missing, fixed)
      const fill = (p: number | undefined) => p ?? free.shift()!
      brokerPorts = brokerPorts.map(fill)
      controllerPorts = controllerPorts.map(fill)

      mkdirSync(dataDir, { recursive: true })
      const file: ClusterFile = {
        format: 1,
        name: spec.name,
        host,
        zones,
        metadata: spec.metadata,
        brokerSettings,
        controllerSettings: { ...(spec.controllerSettings ?? {}) },
        clusterId: spec.clusterId ?? null,
        portBase,
        controllers: controllerIds.map((id, i) => ({ role: 'controller', id, zone: null, port: controllerPorts[i]!, pid: null, wanted: false })),
        brokers: brokerIds.map((id, i) => ({ role: 'broker', id, zone: zones[i % zones.length]!, port: brokerPorts[i]!, pid: null, wanted: false })),
        supervisorPid: process.pid,
        updatedAt: new Date().toISOString(),
      }
      const cluster = new LocalCluster(file, dataDir, options)
      cluster.#persist()
      return cluster
    } catch (e) {
      LocalCluster.#active.delete(dataDir)
      throw e
    }
  }

  /**
   * The cluster described by `<dataDir>/cluster.json`, supervised again: its processes that still
   * run (alive, and their command line names their data directory) are watched by polling; those
   * that should run but do not are restarted when autoRestart (otherwise they show as exited);
   * the rest are stopped. Refuses while another live process supervises the cluster, unless
   * `force`. Call start() to bring up everything that is not running.
   */
  static async adopt(dataDir: string, options: ClusterOptions & { force?: boolean } = {}): Promise<LocalCluster> {
    const dir = path.resolve(dataDir)
    LocalCluster.#claim(dir)
    try {
      const file = readClusterFile(dir)
      const sup = file.supervisorPid
      if (!options.force && sup !== null && sup !== process.pid && isAlive(sup)) {
        throw new Error(`cluster in ${dir} is supervised by process ${sup}; stop it first (or adopt with force)`)
      }
      const cluster = new LocalCluster(file, dir, options)
      const records = [...file.controllers, ...file.brokers]
      for (const m of cluster.#members()) {
        const r = records.find((x) => x.role === m.role && x.id === m.id)!
        cluster.#adoptMember(m, r)
      }
      cluster.#persist()
      if (cluster.#members().some((m) => m.state === 'running')) cluster.#startHealthChecks()
      return cluster
    } catch (e) {
      LocalCluster.#active.delete(dir)
      throw e
    }
  }

  static #claim(dataDir: string): void {
    if (LocalCluster.#active.has(dataDir)) throw new Error(`a LocalCluster of this process already supervises ${dataDir}`)
    LocalCluster.#active.add(dataDir)
  }

  #adoptMember(m: Member, r: MemberRecord): void {
    m.wanted = r.wanted
    if (r.pid !== null && isOurProcess(r.pid, m.role, m.dir)) {
      m.gen++
      m.pid = r.pid
      m.adopted = true
      m.state = 'running'
      m.readyAt = Date.now()
      m.wanted = true
      m.exited = new Promise((resolve) => (m.resolveExited = resolve))
      this.#watchLiveness(m, m.gen, this.#opts.livenessPollMs, false)
      this.#log.info({ role: m.role, id: m.id, pid: m.pid }, 'adopted running process')
      return
    }
    if (!r.wanted) {
      m.state = 'stopped'
      return
    }
    m.lastExit = { code: null, signal: null, at: new Date().toISOString(), expected: false, known: false }
    this.#note(m, `not running when adopted (pid ${r.pid ?? 'none'})`)
    this.#log.warn({ role: m.role, id: m.id, pid: r.pid }, 'process was not running when adopted')
    if (this.#opts.autoRestart) this.#scheduleRestart(m)
    else m.state = 'exited'
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  /** Every broker's host:port, by id, comma-separated. */
  get bootstrap(): string {
    return this.#sortedBrokers().map((m) => `${this.host}:${m.port}`).join(',')
  }

  /** Every controller's host:port, comma-separated ('' in standalone mode). */
  get controllerEndpoints(): string {
    return this.#controllers.map((m) => `${this.host}:${m.port}`).join(',')
  }

  get brokerIds(): number[] {
    return this.#sortedBrokers().map((m) => m.id)
  }

  get controllerIds(): number[] {
    return this.#controllers.map((m) => m.id)
  }

  get brokerSettings(): Record<string, string> {
    return { ...this.#brokerSettings }
  }

  /** Controllers first, then brokers by id. */
  status(): ProcessStatus[] {
    return this.#members().map((m) => this.#statusOf(m))
  }

  /** Status of one process (a broker id, or {role, id}). */
  process(ref: MemberRef): ProcessStatus {
    return this.#statusOf(this.#member(ref))
  }

  /** The last lines of a process's log (its stdout, stderr and the supervisor's notes). */
  logTail(ref: MemberRef, lines = 60): string {
    return tailOf(this.#member(ref).logFile, lines)
  }

  #statusOf(m: Member): ProcessStatus {
    return {
      role: m.role,
      id: m.id,
      zone: m.zone,
      host: this.host,
      port: m.port,
      address: `${this.host}:${m.port}`,
      pid: m.pid,
      state: m.state,
      restarts: m.restarts,
      lastExit: m.lastExit ? { ...m.lastExit } : null,
      uptimeMs: m.state === 'running' && m.readyAt !== null ? Date.now() - m.readyAt : null,
      adopted: m.adopted,
      dataDir: m.dir,
      logFile: m.logFile,
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Whole-cluster operations

  /**
   * Starts every process that is not running: controllers first, then the brokers in parallel.
   * Resolves when all have printed their ready line. If one fails (exits, or no ready line within
   * readyTimeoutMs), stops the whole cluster and rejects with the tail of that process's log.
   */
  async start(): Promise<void> {
    this.#assertUsable()
    if (this.#stopping) throw new Error('cluster is stopping')
    try {
      await Promise.all(this.#controllers.map((m) => this.#startMember(m)))
      await Promise.all(this.#sortedBrokers().map((m) => this.#startMember(m)))
    } catch (e) {
      await this.stop().catch((err: unknown) => this.#log.error({ err }, 'stop after a failed start'))
      throw e
    }
    this.#startHealthChecks()
  }

  /**
   * SIGTERM to every broker in parallel, then to the controllers; SIGKILL to those still running
   * after `timeoutMs` (default stopTimeoutMs). `force` sends SIGKILL right away. The supervisor
   * restarts nothing while and after it runs (start() again to bring the cluster back).
   */
  async stop(opts: { timeoutMs?: number; force?: boolean } = {}): Promise<void> {
    this.#assertUsable()
    const signal: NodeJS.Signals = opts.force ? 'SIGKILL' : 'SIGTERM'
    const timeoutMs = opts.timeoutMs ?? this.#opts.stopTimeoutMs
    this.#stopCount++
    try {
      this.#stopHealthChecks()
      for (const m of this.#members()) {
        m.wanted = false
        this.#clearRestart(m)
      }
      this.#persist()
      const stopAll = (ms: Member[]) => Promise.all(ms.map((m) => this.#terminate(m, signal, timeoutMs)))
      await stopAll(this.#sortedBrokers())
      await stopAll(this.#controllers)
      for (const m of this.#members()) if (m.pid === null && m.state !== 'stopped') m.state = 'stopped'
    } finally {
      this.#stopCount--
      this.#persist()
    }
  }

  /**
   * Stops supervising without touching the processes (they keep running; cluster.json says nobody
   * supervises them), so that another LocalCluster, here or in another process, can adopt them.
   * This object is unusable afterwards.
   */
  detach(): void {
    if (this.#detached) return
    this.#stopHealthChecks()
    for (const m of this.#members()) {
      this.#clearRestart(m)
      if (m.livenessTimer) clearInterval(m.livenessTimer)
      m.livenessTimer = null
      m.child?.removeAllListeners()
      m.child?.unref()
    }
    this.#persist(true)
    this.#detached = true
    LocalCluster.#active.delete(this.dataDir)
  }

  // ---------------------------------------------------------------------------------------------
  // One process

  /**
   * Sends `signal` (default SIGKILL, a crash) to a process. The supervisor treats the exit as
   * unrequested: restarted when autoRestart, otherwise left exited. Waits for the exit for
   * SIGKILL, SIGTERM, SIGINT unless `wait` is false; other signals (SIGSTOP…) return at once.
   */
  async kill(ref: MemberRef, signal: NodeJS.Signals = 'SIGKILL', opts: { wait?: boolean } = {}): Promise<void> {
    this.#assertUsable()
    const m = this.#member(ref)
    const pid = m.pid
    if (pid === null) throw new Error(`${m.label} is not running`)
    const exited = m.exited
    this.#signal(m, signal)
    const wait = opts.wait ?? ['SIGKILL', 'SIGTERM', 'SIGINT'].includes(signal)
    if (!wait) return
    if (m.adopted) this.#watchLiveness(m, m.gen, 50, true)
    const grace = signal === 'SIGKILL' ? KILL_GRACE_MS : this.#opts.stopTimeoutMs
    if (!(await within(exited, grace))) throw new Error(`${m.label} (pid ${pid}) did not exit within ${grace} ms of ${signal}`)
  }

  /**
   * Stops a process gracefully (SIGTERM, SIGKILL after stopTimeoutMs) if it runs, and starts it
   * again on the same port and data directory; resolves when it is ready. A process that was not
   * running is just started.
   */
  restart(ref: MemberRef): Promise<void> {
    this.#assertUsable()
    const m = this.#member(ref)
    return this.#serial(m, async () => {
      if (this.#stopping) throw new Error('cluster is stopping')
      m.wanted = true
      this.#clearRestart(m)
      if (m.pid !== null) {
        m.state = 'restarting'
        await this.#terminate(m, 'SIGTERM', this.#opts.stopTimeoutMs)
      }
      await this.#spawnAndWait(m)
    })
  }

  /** Stops a process gracefully and keeps it down (until restart() or start()). */
  stopProcess(ref: MemberRef, opts: { timeoutMs?: number } = {}): Promise<void> {
    this.#assertUsable()
    const m = this.#member(ref)
    return this.#serial(m, async () => {
      m.wanted = false
      this.#clearRestart(m)
      this.#persist()
      await this.#terminate(m, 'SIGTERM', opts.timeoutMs ?? this.#opts.stopTimeoutMs)
      m.state = 'stopped'
    })
  }

  /**
   * A new broker (id: one above every broker id used so far in this data directory), in `zone`
   * (default: the zone with the fewest brokers) on `port` (default: a free one, or with a port
   * base the first free port after it). Started right away when any broker is running or
   * starting; otherwise start() starts it.
   */
  async addBroker(opts: { zone?: string; port?: number; id?: number } = {}): Promise<number> {
    this.#assertUsable()
    const used = new Set<number>(this.#brokers.keys())
    for (const name of existsSync(this.dataDir) ? readdirSync(this.dataDir) : []) {
      const m = /^broker-(\d+)$/.exec(name)
      if (m) used.add(Number(m[1]))
    }
    const id = opts.id ?? Math.max(0, ...used) + 1
    if (this.#brokers.has(id)) throw new Error(`broker ${id} already exists`)
    checkIds('id', [id], 1)
    let zone = opts.zone
    if (zone === undefined) {
      const count = new Map(this.zones.map((z) => [z, 0]))
      for (const b of this.#brokers.values()) if (b.zone !== null) count.set(b.zone, (count.get(b.zone) ?? 0) + 1)
      zone = [...count.entries()].sort((a, b) => a[1] - b[1])[0]![0]
    } else if (!this.zones.includes(zone)) {
      throw new Error(`zone '${zone}' is not one of ${this.zones.join(', ')}`)
    }
    const taken = this.#members().map((m) => m.port)
    let port = opts.port
    if (port !== undefined) {
      checkPort('port', port)
      if (taken.includes(port)) throw new Error(`port ${port} is used by this cluster`)
      await assertPortsFree(this.host, [port])
    } else if (this.#portBase !== null) {
      for (let p = this.#portBase; p <= 65535; p++) {
        if (!taken.includes(p) && (await isPortFree(this.host, p))) {
          port = p
          break
        }
      }
      if (port === undefined) throw new Error(`no free port after ${this.#portBase}`)
    } else {
      port = (await allocatePorts(this.host, 1, taken))[0]!
    }
    const m = new Member('broker', id, zone, port, this.#dirOf('broker', id), this.#opts.backoff.initialMs)
    const live = [...this.#brokers.values()].some((b) => b.wanted)
    this.#brokers.set(id, m)
    this.#persist()
    this.#log.info({ id, zone, port }, 'broker added')
    if (live) {
      await this.#serial(m, async () => {
        m.wanted = true
        await this.#spawnAndWait(m)
      })
    }
    return id
  }

  /**
   * Stops a broker (gracefully) and forgets it: it leaves cluster.json, status() and bootstrap.
   * Its data directory stays unless `deleteData` (moving its partitions away first is the
   * caller's business).
   */
  async removeBroker(id: number, opts: { deleteData?: boolean } = {}): Promise<void> {
    this.#assertUsable()
    const m = this.#member(id)
    await this.#serial(m, async () => {
      m.wanted = false
      this.#clearRestart(m)
      await this.#terminate(m, 'SIGTERM', this.#opts.stopTimeoutMs)
      m.state = 'stopped'
    })
    this.#brokers.delete(id)
    this.#persist()
    if (opts.deleteData) rmSync(m.dir, { recursive: true, force: true })
    this.#log.info({ id, deleteData: opts.deleteData ?? false }, 'broker removed')
  }

  /**
   * A lost volume: the process is SIGKILLed if it runs, everything in its data directory except
   * process.log is deleted, and it is started again on the empty directory if it was running
   * (or supposed to be) unless `restart` is false.
   */
  wipeVolume(ref: MemberRef, opts: { restart?: boolean } = {}): Promise<void> {
    this.#assertUsable()
    const m = this.#member(ref)
    return this.#serial(m, async () => {
      const wasUp = m.wanted && !this.#stopping
      this.#clearRestart(m)
      await this.#terminate(m, 'SIGKILL', KILL_GRACE_MS)
      m.state = 'stopped'
      if (existsSync(m.dir)) {
        for (const name of readdirSync(m.dir)) {
          if (name !== LOG_FILE) rmSync(path.join(m.dir, name), { recursive: true, force: true })
        }
      }
      this.#note(m, 'volume wiped')
      this.#log.warn({ role: m.role, id: m.id, dir: m.dir }, 'volume wiped')
      if (wasUp && opts.restart !== false) await this.#spawnAndWait(m)
      else {
        m.wanted = false
        this.#persist()
      }
    })
  }

  /**
   * Replaces the settings passed to brokers; they take effect as each broker is (re)started.
   * Kept in cluster.json.
   */
  setBrokerSettings(settings: Record<string, string>): void {
    this.#assertUsable()
    for (const k of MANAGED_BROKER_SETTINGS) if (k in settings) throw new Error(`brokerSettings: '${k}' is set by the launcher`)
    this.#brokerSettings = { ...settings }
    this.#persist()
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: starting, exits, the supervisor

  #members(): Member[] {
    return [...this.#controllers, ...this.#sortedBrokers()]
  }

  #sortedBrokers(): Member[] {
    return [...this.#brokers.values()].sort((a, b) => a.id - b.id)
  }

  #member(ref: MemberRef): Member {
    const role: Role = typeof ref === 'number' ? 'broker' : ref.role
    const id = typeof ref === 'number' ? ref : ref.id
    const m = role === 'broker' ? this.#brokers.get(id) : this.#controllers.find((c) => c.id === id)
    if (!m) throw new Error(`no ${role} ${id} in cluster ${this.name}`)
    return m
  }

  #dirOf(role: Role, id: number): string {
    return path.join(this.dataDir, `${role}-${id}`)
  }

  get #stopping(): boolean {
    return this.#stopCount > 0
  }

  #assertUsable(): void {
    if (this.#detached) throw new Error('this LocalCluster was detached; adopt the cluster again')
  }

  #serial<T>(m: Member, fn: () => Promise<T>): Promise<T> {
    const run = m.queue.then(fn, fn)
    m.queue = run.catch(() => {})
    return run
  }

  #startMember(m: Member): Promise<void> {
    return this.#serial(m, async () => {
      if (this.#stopping) throw new Error('cluster is stopping')
      m.wanted = true
      if (m.state === 'running') return
      this.#clearRestart(m)
      if (m.state === 'starting' && m.pid !== null) {
        // A supervisor restart is under way: wait for it like for our own.
        m.holdRestarts = true
        try {
          await this.#waitReady(m, m.gen)
        } finally {
          m.holdRestarts = false
        }
        return
      }
      await this.#spawnAndWait(m, false)
    })
  }

  /**
   * Starts the process and waits for ready. A failure is the caller's to report; with `supervise`
   * the supervisor also keeps trying (when autoRestart).
   */
  async #spawnAndWait(m: Member, supervise = true): Promise<void> {
    m.holdRestarts = true
    let gen: number
    try {
      gen = this.#spawn(m)
      await this.#waitReady(m, gen)
    } catch (e) {
      m.holdRestarts = false
      // start() stops everything after this; restart()/addBroker() leave it to the supervisor.
      if (supervise && m.wanted && !this.#stopping && this.#opts.autoRestart && m.pid === null && m.state === 'exited') this.#scheduleRestart(m)
      throw e
    }
    m.holdRestarts = false
  }

  #args(m: Member): string[] {
    const args = [...this.#opts.nodeArgs, this.#opts.entry]
    if (m.role === 'controller') {
      args.push('controller', '--controller-id', String(m.id), '--listeners', `${this.host}:${m.port}`, '--log-dirs', m.dir)
      if (this.metadata.mode === 'zookeeper') args.push('--zookeeper-connect', this.metadata.connect)
      if (this.clusterId !== null) args.push('--cluster-id', this.clusterId)
      for (const [k, v] of Object.entries(this.#controllerSettings)) args.push('--set', `${k}=${v}`)
      args.push(...this.#opts.controllerArgs)
      return args
    }
    args.push(
      'broker',
      '--broker-id', String(m.id),
      '--set', `listeners=${this.host}:${m.port}`,
      '--set', `log.dirs=${m.dir}`,
      '--set', `broker.rack=${m.zone ?? ''}`,
    )
    if (this.#controllers.length > 0) args.push('--set', `controller.endpoints=${this.controllerEndpoints}`)
    else if (this.clusterId !== null && !('cluster.id' in this.#brokerSettings)) args.push('--set', `cluster.id=${this.clusterId}`)
    for (const [k, v] of Object.entries(this.#brokerSettings)) args.push('--set', `${k}=${v}`)
    args.push(...this.#opts.brokerArgs)
    return args
  }

  /** Spawns the member's process; returns its generation. */
  #spawn(m: Member): number {
    if (!m.wanted) throw new Error(`${m.label} is not wanted (stopped meanwhile)`)
    if (this.#stopping) throw new Error('cluster is stopping')
    if (this.#detached) throw new Error('detached')
    if (m.pid !== null) throw new Error(`${m.label} already runs (pid ${m.pid})`)
    mkdirSync(m.dir, { recursive: true })
    const args = this.#args(m)
    const gen = ++m.gen
    this.#note(m, `starting ${m.label}${m.zone ? ` (zone ${m.zone})` : ''}: ${this.#opts.nodePath} ${args.join(' ')}`)
    m.readOffset = statSync(m.logFile).size
    const fd = openSync(m.logFile, 'a')
    let child: ChildProcess
    try {
      child = spawn(this.#opts.nodePath, args, {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: { ...process.env, ...this.#opts.env },
      })
    } finally {
      closeSync(fd)
    }
    m.exited = new Promise((resolve) => (m.resolveExited = resolve))
    m.child = child
    m.pid = child.pid ?? null
    m.adopted = false
    m.state = 'starting'
    m.readyAt = null
    m.healthFailures = 0
    child.unref()
    child.once('exit', (code, signal) => this.#onExit(m, gen, code, signal, true))
    child.once('error', (err) => {
      this.#note(m, `spawn failed: ${err.message}`)
      this.#onExit(m, gen, null, null, true)
    })
    if (m.pid === null) {
      // spawn failed synchronously (the 'error' event follows): behave as an immediate exit.
      m.pid = -1
    }
    this.#persist()
    this.#log.info({ role: m.role, id: m.id, pid: m.pid, port: m.port }, 'process started')
    return gen
  }

  /** Resolves when the generation-`gen` process prints its ready line. */
  #waitReady(m: Member, gen: number): Promise<void> {
    const re = new RegExp(`^Fjord ${m.role} ${m.id} ready\\b`)
    const deadline = Date.now() + this.#opts.readyTimeoutMs
    let offset = m.readOffset
    let partial = ''
    const readNew = (): boolean => {
      let fd: number
      try {
        fd = openSync(m.logFile, 'r')
      } catch {
        return false
      }
      try {
        const buf = Buffer.alloc(64 * 1024)
        for (;;) {
          const n = readSync(fd, buf, 0, buf.length, offset)
          if (n <= 0) break
          offset += n
          const lines = (partial + buf.subarray(0, n).toString('utf8')).split('\n')
          partial = lines.pop() ?? ''
          if (lines.some((l) => re.test(l))) return true
        }
      } finally {
        closeSync(fd)
      }
      return false
    }
    return new Promise<void>((resolve, reject) => {
      const tick = () => {
        if (this.#detached) return reject(new Error(`${m.label}: the cluster was detached`))
        if (m.gen !== gen) return reject(new Error(`${m.label} was started again meanwhile`))
        if (readNew()) {
          if (m.gen !== gen || m.pid === null) return reject(this.#failure(m, 'exited right after printing ready'))
          m.state = 'running'
          m.readyAt = Date.now()
          this.#log.info({ role: m.role, id: m.id, pid: m.pid, address: `${this.host}:${m.port}` }, 'process ready')
          this.emit('ready', this.#event(m))
          return resolve()
        }
        if (m.pid === null) {
          const e = m.lastExit
          return reject(this.#failure(m, `exited before it was ready (code ${e?.code ?? 'none'}, signal ${e?.signal ?? 'none'})`))
        }
        if (Date.now() > deadline) {
          const err = this.#failure(m, `printed no ready line within ${this.#opts.readyTimeoutMs} ms`)
          this.#note(m, `no ready line within ${this.#opts.readyTimeoutMs} ms: SIGKILL`)
          this.#signal(m, 'SIGKILL')
          return reject(err)
        }
        setTimeout(tick, READY_POLL_MS)
      }
      tick()
    })
  }

  #failure(m: Member, what: string): Error {
    return new Error(`${m.label} of cluster ${this.name} ${what}; last lines of ${m.logFile}:\n${tailOf(m.logFile, 40)}`)
  }

  #event(m: Member): ProcessEvent {
    return { role: m.role, id: m.id, pid: m.pid, address: `${this.host}:${m.port}` }
  }

  #signal(m: Member, signal: NodeJS.Signals): void {
    const pid = m.pid
    if (pid === null || pid <= 0) return
    if (m.adopted && !isOurProcess(pid, m.role, m.dir)) {
      // Gone (or the pid now belongs to someone else): never signal it.
      this.#onExit(m, m.gen, null, null, false)
      return
    }
    try {
      if (m.child) m.child.kill(signal)
      else process.kill(pid, signal)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e
    }
  }

  /** Asks the process to exit and waits; SIGKILL after timeoutMs. No-op when it does not run. */
  async #terminate(m: Member, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    if (m.pid === null) return
    const pid = m.pid
    m.expectExit = true
    if (m.state !== 'restarting') m.state = 'stopping'
    const exited = m.exited
    this.#signal(m, signal)
    if (m.adopted) this.#watchLiveness(m, m.gen, 100, true)
    if (signal !== 'SIGKILL' && !(await within(exited, timeoutMs))) {
      this.#note(m, `still running ${timeoutMs} ms after ${signal}: SIGKILL`)
      this.#log.warn({ role: m.role, id: m.id, pid }, `no exit ${timeoutMs} ms after ${signal}, sending SIGKILL`)
      this.#signal(m, 'SIGKILL')
    }
    if (!(await within(exited, KILL_GRACE_MS))) throw new Error(`${m.label} (pid ${pid}) did not exit after SIGKILL`)
  }

  /** Polls an adopted process (not our child) until it is gone. */
  #watchLiveness(m: Member, gen: number, everyMs: number, ref: boolean): void {
    if (m.livenessTimer) clearInterval(m.livenessTimer)
    const timer = setInterval(() => {
      if (m.gen !== gen || m.pid === null) {
        clearInterval(timer)
        if (m.livenessTimer === timer) m.livenessTimer = null
        return
      }
      if (!isAlive(m.pid)) this.#onExit(m, gen, null, null, false)
    }, everyMs)
    if (!ref) timer.unref()
    m.livenessTimer = timer
  }

  #onExit(m: Member, gen: number, code: number | null, signal: NodeJS.Signals | null, known: boolean): void {
    if (gen !== m.gen || m.pid === null) return
    const pid = m.pid
    if (m.livenessTimer) clearInterval(m.livenessTimer)
    m.livenessTimer = null
    m.pid = null
    m.child = null
    m.healthFailures = 0
    const expected = m.expectExit
    m.expectExit = false
    m.lastExit = { code, signal, at: new Date().toISOString(), expected, known }
    const restart = !expected && m.wanted && !m.holdRestarts && !this.#stopping && !this.#detached && this.#opts.autoRestart
    const how = known ? `code=${code} signal=${signal}` : 'exit status unknown (adopted process)'
    this.#note(m, `pid ${pid} exited ${how}${expected ? ' (requested)' : ''}`)
    const fields = { role: m.role, id: m.id, pid, code, signal, expected }
    if (expected) this.#log.info(fields, 'process exited')
    else this.#log.warn(fields, restart ? 'process exited unexpectedly, restarting' : 'process exited unexpectedly')
    if (expected) {
      if (m.state !== 'restarting') m.state = 'stopped'
    } else {
      m.state = 'exited'
    }
    this.#persist()
    m.resolveExited()
    this.emit('exit', { ...this.#event(m), pid, ...m.lastExit, action: restart ? 'restart' : 'none' })
    if (restart) this.#scheduleRestart(m)
  }

  #scheduleRestart(m: Member): void {
    const b = this.#opts.backoff
    if (m.readyAt !== null && Date.now() - m.readyAt >= b.resetAfterMs) m.backoffMs = b.initialMs
    const delayMs = m.backoffMs
    m.backoffMs = Math.min(m.backoffMs * 2, b.maxMs)
    m.state = 'restarting'
    this.#clearRestart(m)
    const attempt = m.restarts + 1
    this.#log.info({ role: m.role, id: m.id, attempt, delayMs }, 'restart scheduled')
    this.#note(m, `restart ${attempt} in ${delayMs} ms`)
    m.restartTimer = setTimeout(() => {
      m.restartTimer = null
      if (!m.wanted || this.#stopping || this.#detached || m.pid !== null) return
      m.restarts++
      void this.#serial(m, async () => {
        if (!m.wanted || this.#stopping || this.#detached || m.pid !== null) return
        try {
          const g = this.#spawn(m)
          await this.#waitReady(m, g)
        } catch (err) {
          // The exit (or the SIGKILL after the ready timeout) schedules the next attempt.
          if (m.wanted && !this.#stopping && !this.#detached) this.#log.warn({ role: m.role, id: m.id, err: (err as Error).message.split('\n')[0] }, 'restart failed')
        }
      })
    }, delayMs)
    m.restartTimer.unref()
    this.emit('restart', { ...this.#event(m), attempt, delayMs })
  }

  #clearRestart(m: Member): void {
    if (m.restartTimer) clearTimeout(m.restartTimer)
    m.restartTimer = null
  }

  #startHealthChecks(): void {
    const h = this.#opts.healthCheck
    if (!h || this.#healthTimer) return
    this.#healthTimer = setInterval(() => {
      for (const m of this.#members()) if (m.state === 'running' && !m.probing) void this.#check(m, h)
    }, h.intervalMs)
    this.#healthTimer.unref()
  }

  #stopHealthChecks(): void {
    if (this.#healthTimer) clearInterval(this.#healthTimer)
    this.#healthTimer = null
  }

  async #check(m: Member, h: Required<HealthCheckOptions>): Promise<void> {
    const gen = m.gen
    m.probing = true
    let ok: boolean
    try {
      ok = await probe(m.role === 'broker' ? h.brokerProbe : 'tcp', this.host, m.port, h.timeoutMs)
    } finally {
      m.probing = false
    }
    if (m.gen !== gen || m.state !== 'running' || this.#detached) return
    if (ok) {
      m.healthFailures = 0
      return
    }
    m.healthFailures++
    if (m.healthFailures < h.failures) return
    const failures = m.healthFailures
    m.healthFailures = 0
    this.emit('unhealthy', { ...this.#event(m), failures })
    if (!this.#opts.autoRestart) {
      this.#log.warn({ role: m.role, id: m.id, pid: m.pid, failures }, 'process does not answer health checks')
      return
    }
    this.#log.warn({ role: m.role, id: m.id, pid: m.pid, failures }, 'process does not answer health checks: hung, SIGKILL')
    this.#note(m, `${failures} health checks failed in a row: SIGKILL`)
    this.#signal(m, 'SIGKILL')
  }

  /** A line of the supervisor's own in the process's log. */
  #note(m: Member, text: string): void {
    try {
      mkdirSync(m.dir, { recursive: true })
      appendFileSync(m.logFile, `[fjord-cluster ${new Date().toISOString()}] ${text}\n`)
    } catch {
      /* the directory may be gone (removeBroker with deleteData) */
    }
  }

  #persist(releasing = false): void {
    if (this.#detached) return
    const record = (m: Member): MemberRecord => ({ role: m.role, id: m.id, zone: m.zone, port: m.port, pid: m.pid !== null && m.pid > 0 ? m.pid : null, wanted: m.wanted })
    const anyUp = this.#members().some((m) => m.pid !== null || m.wanted)
    writeClusterFile(this.dataDir, {
      format: 1,
      name: this.name,
      host: this.host,
      zones: [...this.zones],
      metadata: this.metadata,
      brokerSettings: this.#brokerSettings,
      controllerSettings: this.#controllerSettings,
      clusterId: this.clusterId,
      portBase: this.#portBase,
      controllers: this.#controllers.map(record),
      brokers: this.#sortedBrokers().map(record),
      supervisorPid: releasing || !anyUp ? null : process.pid,
      updatedAt: new Date().toISOString(),
    })
  }
}
