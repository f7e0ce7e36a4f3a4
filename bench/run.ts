// `npm run bench`: throughput, latency and footprint of Fjord's broker, each throughput figure
// also expressed as a ratio against baselines measured in the same run (the machine is noisy):
//   mock  - librdkafka's in-memory C mock cluster (a ceiling for the client itself)
//   null  - bench/null-broker.ts: a Node broker that does no work (the ceiling for a Node broker)
//   fjord - node dist/src/cli/main.js broker
// Load comes from bench/rdkafka-driver.c (librdkafka, a real client), compiled at bench time.
// Prints one JSON document on stdout; progress goes to stderr. Not a pass/fail test.
//
// Options (flags or environment):
//   --quick / FJORD_BENCH_QUICK=1        ~1 minute in total
//   --targets mock,null,fjord / FJORD_BENCH_TARGETS
//   --produce-seconds N  --produce-max-mb N  --latency-seconds N  --latency-rate-mb N
//   --metadata-partitions N (10000)  --skip-metadata
//   --only groups (FJORD_BENCH_ONLY=groups): only the consumer-group figures (bench/groups.ts)
//   --skip-groups  --groups-failover-runs N (3)
//   --only producers (FJORD_BENCH_ONLY=producers): only plain vs idempotent vs transactional produce
//   --skip-producers  --producers-seconds N (6)  --txn-records N (100)
//   --only replication (FJORD_BENCH_ONLY=replication): only the 3-broker cluster figures (bench/replication.ts)
//   --skip-replication  --replication-produce-seconds N (8)  --replication-failover-runs N (3)
//   --only controlplane (FJORD_BENCH_ONLY=controlplane): only the control-plane figures
//   (bench/controlplane.ts: CreateCluster → ACTIVE, rebalance 3 → 6 with data, p99 during a roll)
//   --skip-controlplane

import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { benchControlPlane } from './controlplane.js'
import { benchGroups } from './groups.js'
import { benchReplication } from './replication.js'

const here = path.dirname(fileURLToPath(import.meta.url)) // dist/bench
const repo = path.resolve(here, '../..')
const DRIVER_SRC = path.join(repo, 'bench/rdkafka-driver.c')
const NULL_BROKER_JS = path.join(here, 'null-broker.js')
const FJORD_MAIN_JS = path.join(repo, 'dist/src/cli/main.js')

type Json = Record<string, unknown>

// ---------------------------------------------------------------- options

const argv = process.argv.slice(2)
function flag(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`)
  if (i < 0) return undefined
  const v = argv[i + 1]
  return v === undefined || v.startsWith('--') ? 'true' : v
}
const quick = flag('quick') !== undefined || process.env.FJORD_BENCH_QUICK === '1'
function num(name: string, full: number, short: number): number {
  const v = flag(name) ?? process.env[`FJORD_BENCH_${name.toUpperCase().replace(/-/g, '_')}`]
  return v !== undefined ? Number(v) : quick ? short : full
}

const settings = {
  quick,
  targets: (flag('targets') ?? process.env.FJORD_BENCH_TARGETS ?? 'mock,null,fjord').split(','),
  partitions: 6,
  record_bytes: 1024,
  produce_seconds: num('produce-seconds', 15, 4),
  produce_max_mb: num('produce-max-mb', 3000, 500),
  producer: { acks: 1, 'linger.ms': 5, 'batch.size': 1048576, compression: 'none' },
  latency_rate_mb_per_s: num('latency-rate-mb', 20, 20),
  latency_seconds: num('latency-seconds', 10, 4),
  latency_warmup_seconds: quick ? 1 : 2,
  latency_producer: { acks: 1, 'linger.ms': 1 },
  metadata_partitions: num('metadata-partitions', 10000, 10000),
  metadata_topics: 100,
  metadata_repeats: num('metadata-repeats', 9, 5),
  skip_metadata: flag('skip-metadata') !== undefined,
  only: flag('only') ?? process.env.FJORD_BENCH_ONLY ?? null,
  skip_groups: flag('skip-groups') !== undefined,
  groups_failover_runs: num('groups-failover-runs', 3, 3),
  skip_producers: flag('skip-producers') !== undefined,
  producers_seconds: num('producers-seconds', 6, 4),
  txn_records: num('txn-records', 100, 100),
  producers_targets: ['fjord', 'mock'],
  skip_replication: flag('skip-replication') !== undefined,
  skip_controlplane: flag('skip-controlplane') !== undefined,
  replication_produce_seconds: num('replication-produce-seconds', 8, 4),
  replication_failover_runs: num('replication-failover-runs', 3, 3),
  mb: '10^6 bytes',
}

const THROUGHPUT_TOPIC = 'bench-throughput'
const LATENCY_TOPIC = 'e2e-latency' // the null broker keeps topics named e2e* in memory
const PRODUCERS_TOPICS = { plain: 'producers-plain', idempotent: 'producers-idempotent', transactional: 'producers-txn' }

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
}

const round = (v: number, d = 3): number => Math.round(v * 10 ** d) / 10 ** d
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

// ---------------------------------------------------------------- processes

const children = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
})
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130))

class Tail {
  private text = ''
  constructor(private readonly max = 4000) {}
  push(s: string): void {
    this.text = (this.text + s).slice(-this.max)
  }
  toString(): string {
    return this.text.trim()
  }
}

interface Running {
  bootstrap: string
  pid: number
  readySeconds: number
  stop(): Promise<void>
  stderr: Tail
}

/** Spawns a server and waits for the stdout line containing `ready` and the bootstrap address. */
function spawnServer(cmd: string, args: string[], timeoutMs: number, cleanup?: () => void): Promise<Running> {
  const t0 = performance.now()
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  const stderr = new Tail()
  const stdout = new Tail()
  child.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()))
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(t)
    }
    children.delete(child)
    cleanup?.()
  }
  return new Promise((resolve, reject) => {
    let buf = ''
    let done = false
    const fail = (why: string): void => {
      if (done) return
      done = true
      void stop()
      reject(new Error(`${why}; stdout: ${stdout.toString().slice(-800)}; stderr: ${stderr.toString().slice(-1500)}`))
    }
    const timer = setTimeout(() => fail(`no ready line within ${timeoutMs} ms`), timeoutMs)
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout.push(d)
      if (done) return
      buf += d
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        const m = /(127\.0\.0\.1:\d+)/.exec(line)
        if (line.includes('ready') && m) {
          done = true
          clearTimeout(timer)
          resolve({ bootstrap: m[1]!, pid: child.pid!, readySeconds: (performance.now() - t0) / 1000, stop, stderr })
          return
        }
      }
    })
    child.once('error', (e) => fail(`spawn failed: ${e.message}`))
    child.once('exit', (code, sig) => fail(`exited (${code ?? sig}) before ready`))
  })
}

let driverPath = ''

function buildDriver(): { path: string; librdkafka: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fjord-bench-'))
  const out = path.join(dir, 'rdkafka-driver')
  execFileSync('cc', ['-O2', DRIVER_SRC, '-lrdkafka', '-lpthread', '-o', out], { stdio: ['ignore', 'inherit', 'inherit'] })
  const version = JSON.parse(execFileSync(out, ['version'], { encoding: 'utf8' })) as { librdkafka: string }
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  return { path: out, librdkafka: version.librdkafka }
}

/** Runs a driver mode; resolves with its JSON line, rejects with its error and stderr. */
function driver(mode: string, args: Record<string, string | number>, timeoutMs: number): Promise<Json> {
  const list = [mode]
  for (const [k, v] of Object.entries(args)) list.push(`--${k}`, String(v))
  return new Promise((resolve, reject) => {
    const child = spawn(driverPath, list, { stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let out = ''
    const err = new Tail()
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => err.push(d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('exit', (code, sig) => {
      clearTimeout(timer)
      children.delete(child)
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop()
      let json: Json | undefined
      try {
        json = line ? (JSON.parse(line) as Json) : undefined
      } catch {
        json = undefined
      }
      if (code === 0 && json && json.error === undefined) resolve(json)
      else
        reject(
          new Error(
            `driver ${mode} failed (${code ?? sig}${sig === 'SIGKILL' ? `, timeout ${timeoutMs} ms` : ''}): ` +
              `${json?.error ?? out.slice(-300)}; stderr: ${err.toString().slice(-1200)}`,
          ),
        )
    })
  })
}

// ---------------------------------------------------------------- raw protocol (timing probes)

function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? round(Number(m[1]) / 1024, 1) : null
  } catch {
    return null
  }
}

class RssSampler {
  private samples: number[] = []
  private timer: NodeJS.Timeout
  constructor(pid: number, everyMs = 200) {
    this.timer = setInterval(() => {
      const v = rssMb(pid)
      if (v !== null) this.samples.push(v)
    }, everyMs)
  }
  stop(): Json {
    clearInterval(this.timer)
    const s = this.samples
    if (s.length === 0) return { samples: 0 }
    return { max_mb: Math.max(...s), mean_mb: round(s.reduce((a, b) => a + b, 0) / s.length, 1), samples: s.length }
  }
}

/** One connection that sends requests one at a time and returns whole response frames. */
class RawConn {
  private chunks: Buffer[] = []
  private buffered = 0
  private waiter: ((frame: Buffer) => void) | null = null
  private correlation = 0
  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true)
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d)
      this.buffered += d.length
      this.pump()
    })
  }

  static connect(bootstrap: string, timeoutMs = 2000): Promise<RawConn> {
    const [host, port] = bootstrap.split(':')
    return new Promise((resolve, reject) => {
      const s = net.connect(Number(port), host)
      const t = setTimeout(() => {
        s.destroy()
        reject(new Error('connect timeout'))
      }, timeoutMs)
      s.once('connect', () => {
        clearTimeout(t)
        resolve(new RawConn(s))
      })
      s.once('error', (e) => {
        clearTimeout(t)
        reject(e)
      })
    })
  }

  private pump(): void {
    if (!this.waiter || this.buffered < 4) return
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
    const size = all.readInt32BE(0)
    if (all.length < size + 4) {
      this.chunks = [all]
      return
    }
    const frame = all.subarray(4, 4 + size)
    const rest = all.subarray(4 + size)
    this.chunks = rest.length ? [rest] : []
    this.buffered = rest.length
    const w = this.waiter
    this.waiter = null
    w(frame)
  }

  /** Sends header v1 + body; resolves with the response body (after the correlation id). */
  request(apiKey: number, version: number, body: Buffer, timeoutMs = 30000): Promise<Buffer> {
    const corr = ++this.correlation
    const clientId = Buffer.from('fjord-bench')
    const head = Buffer.alloc(4 + 2 + 2 + 4 + 2)
    head.writeInt32BE(2 + 2 + 4 + 2 + clientId.length + body.length, 0)
    head.writeInt16BE(apiKey, 4)
    head.writeInt16BE(version, 6)
    head.writeInt32BE(corr, 8)
    head.writeInt16BE(clientId.length, 12)
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no response to api ${apiKey} v${version} within ${timeoutMs} ms`)), timeoutMs)
      const onClose = (): void => reject(new Error('connection closed'))
      this.socket.once('close', onClose)
      this.waiter = (frame) => {
        clearTimeout(t)
        this.socket.off('close', onClose)
        if (frame.readInt32BE(0) !== corr) reject(new Error('correlation id mismatch'))
        else resolve(frame.subarray(4))
      }
      this.socket.write(Buffer.concat([head, clientId, body]))
      this.pump()
    })
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Time from `t0` until an ApiVersions v0 request is answered without error. */
async function firstApiVersions(bootstrap: string, t0: number, timeoutMs = 10000): Promise<number> {
  for (;;) {
    try {
      const c = await RawConn.connect(bootstrap, 1000)
      try {
        const body = await c.request(18, 0, Buffer.alloc(0), 2000)
        if (body.readInt16BE(0) === 0) return (performance.now() - t0) / 1000
      } finally {
        c.close()
      }
    } catch {
      // not yet
    }
    if (performance.now() - t0 > timeoutMs) throw new Error('no ApiVersions answer')
    await sleep(5)
  }
}

/** Counts topics and partitions in a Metadata v1-v4 response body (to check it is complete). */
function countMetadata(b: Buffer, version: number): { topics: number; partitions: number } {
  let at = version >= 3 ? 4 : 0 // throttle
  const str = (): void => {
    const n = b.readInt16BE(at)
    at += 2 + Math.max(0, n)
  }
  const brokers = b.readInt32BE(at)
  at += 4
  for (let i = 0; i < brokers; i++) {
    at += 4
    str()
    at += 4
    str() // rack
  }
  if (version >= 2) str() // cluster id
  at += 4 // controller
  const topics = b.readInt32BE(at)
  at += 4
  let partitions = 0
  for (let i = 0; i < topics; i++) {
    at += 2
    str()
    at += 1 // is_internal
    const np = b.readInt32BE(at)
    at += 4
    partitions += np
    for (let p = 0; p < np; p++) {
      at += 2 + 4 + 4
      const replicas = b.readInt32BE(at)
      at += 4 + 4 * Math.max(0, replicas)
      const isr = b.readInt32BE(at)
      at += 4 + 4 * Math.max(0, isr)
    }
  }
  return { topics, partitions }
}

/** The highest version of `apiKey` the broker advertises (ApiVersions v0). */
async function maxVersion(c: RawConn, apiKey: number): Promise<number> {
  const b = await c.request(18, 0, Buffer.alloc(0))
  const n = b.readInt32BE(2)
  for (let i = 0; i < n; i++) {
    const at = 6 + i * 6
    if (b.readInt16BE(at) === apiKey) return b.readInt16BE(at + 4)
  }
  throw new Error(`api ${apiKey} not advertised`)
}

/** Asks Metadata v4 for `names` with allow_auto_topic_creation = true. */
async function autoCreate(bootstrap: string, names: string[]): Promise<void> {
  const c = await RawConn.connect(bootstrap)
  try {
    const parts: Buffer[] = [Buffer.alloc(4)]
    parts[0]!.writeInt32BE(names.length)
    for (const n of names) {
      const b = Buffer.from(n)
      const len = Buffer.alloc(2)
      len.writeInt16BE(b.length)
      parts.push(len, b)
    }
    parts.push(Buffer.from([1]))
    await c.request(3, 4, Buffer.concat(parts), 120000)
  } finally {
    c.close()
  }
}

async function timeMetadata(bootstrap: string, repeats: number): Promise<Json> {
  // Metadata v4 (librdkafka 2.0.2's version) or the broker's highest below it (the mock: v2),
  // topics = null (all), allow_auto_topic_creation = false
  const c = await RawConn.connect(bootstrap)
  try {
    const version = Math.min(4, await maxVersion(c, 3))
    if (version < 1) throw new Error('Metadata v1+ not supported')
    const body = Buffer.from(version >= 4 ? [0xff, 0xff, 0xff, 0xff, 0x00] : [0xff, 0xff, 0xff, 0xff])
    const times: number[] = []
    let counted = { topics: 0, partitions: 0 }
    let bytes = 0
    for (let i = 0; i < repeats + 1; i++) {
      const t = performance.now()
      const resp = await c.request(3, version, body)
      times.push(performance.now() - t)
      if (i === 0) {
        counted = countMetadata(resp, version)
        bytes = resp.length
      }
    }
    const first = times.shift()!
    const sorted = [...times].sort((a, b) => a - b)
    return {
      median_ms: round(sorted[Math.floor(sorted.length / 2)]!, 2),
      min_ms: round(sorted[0]!, 2),
      max_ms: round(sorted[sorted.length - 1]!, 2),
      first_ms: round(first, 2),
      repeats,
      response_bytes: bytes,
      topics_in_response: counted.topics,
      partitions_in_response: counted.partitions,
      request: `Metadata v${version}, all topics, one persistent connection; time = write to last byte read; first request not counted`,
    }
  } finally {
    c.close()
  }
}

// ---------------------------------------------------------------- targets

interface TopicSpec {
  name: string
  partitions: number
}

interface Target {
  name: string
  /** Whether the target takes CreateTopics; otherwise start() creates `topics` itself. */
  createTopics: boolean
  /** `defaultPartitions`: partitions of auto-created topics, where the target has such a setting. */
  start(topics: TopicSpec[], defaultPartitions: number): Promise<Running>
}

const specs = (topics: TopicSpec[]): string => topics.map((t) => `${t.name}:${t.partitions}`).join(',')

const targets: Record<string, Target> = {
  mock: {
    name: 'mock',
    createTopics: false,
    // creating 10 000 mock partitions takes ~25 s
    start: (topics) => spawnServer(driverPath, ['mock-server', '--topics', specs(topics), '--parent', String(process.pid)], 120000),
  },
  null: {
    name: 'null',
    createTopics: true,
    start: () => spawnServer(process.execPath, [NULL_BROKER_JS, '--listen', '127.0.0.1:0', '--partitions', '6'], 10000),
  },
  fjord: {
    name: 'fjord',
    createTopics: true,
    // num.partitions only matters if CreateTopics fails and the bench falls back to auto-creation
    start: (_topics, defaultPartitions) => startFjord([`num.partitions=${defaultPartitions}`]),
  },
}

/** A fresh Fjord broker in a temp data dir, with these `--set key=value` settings. */
function startFjord(set: string[]): Promise<Running> {
  if (!existsSync(FJORD_MAIN_JS)) return Promise.reject(new Error(`Fjord broker not built: ${FJORD_MAIN_JS} is missing`))
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fjord-bench-data-'))
  const args = [FJORD_MAIN_JS, 'broker', '--listen', '127.0.0.1:0', '--data-dir', dataDir]
  for (const kv of set) args.push('--set', kv)
  return spawnServer(process.execPath, args, 15000, () => rmSync(dataDir, { recursive: true, force: true }))
}

async function step<T>(name: string, fn: () => Promise<T>): Promise<T | { error: string }> {
  log(name)
  try {
    return await fn()
  } catch (e) {
    const error = (e as Error).message
    log(`${name}: ${error.slice(0, 400)}`)
    return { error }
  }
}

async function startTimed(target: Target, topics: TopicSpec[]): Promise<{ running: Running; start: Json }> {
  const t0 = performance.now()
  const running = await target.start(topics, topics[0]?.partitions ?? 1)
  let apiVersionsSeconds: number | null = null
  try {
    apiVersionsSeconds = await firstApiVersions(running.bootstrap, t0)
  } catch {
    apiVersionsSeconds = null
  }
  return {
    running,
    start: {
      bootstrap: running.bootstrap,
      ready_line_seconds: round(running.readySeconds, 4),
      first_api_versions_seconds: apiVersionsSeconds === null ? null : round(apiVersionsSeconds, 4),
    },
  }
}

async function benchTarget(target: Target): Promise<Json> {
  const result: Json = {}
  const topics = [
    { name: THROUGHPUT_TOPIC, partitions: settings.partitions },
    { name: LATENCY_TOPIC, partitions: settings.partitions },
  ]
  // phase 1: throughput, latency, footprint
  let started: { running: Running; start: Json }
  try {
    log(`${target.name}: start`)
    started = await startTimed(target, topics)
  } catch (e) {
    return { error: (e as Error).message }
  }
  const { running } = started
  try {
    result.start = started.start
    await sleep(1000)
    result.idle_rss_mb = rssMb(running.pid)
    result.pid_is = target.name === 'mock' ? 'rdkafka-driver mock-server process' : 'node broker process'
    if (target.createTopics) {
      result.create_topics = await step(`${target.name}: create topics`, () =>
        driver('create', { bootstrap: running.bootstrap, topics: specs(topics) }, 30000),
      )
      // without CreateTopics the topics are auto-created (num.partitions set at start where possible);
      // the driver uses however many partitions the topic has and reports it
    }
    let produced = 0
    {
      const rss = new RssSampler(running.pid)
      const r = await step(`${target.name}: produce ${settings.produce_seconds}s`, () =>
        driver(
          'produce',
          {
            bootstrap: running.bootstrap,
            topic: THROUGHPUT_TOPIC,
            partitions: settings.partitions,
            size: settings.record_bytes,
            seconds: settings.produce_seconds,
            'max-bytes': settings.produce_max_mb * 1e6,
            acks: 1,
            'linger-ms': 5,
            'batch-size': 1048576,
          },
          (settings.produce_seconds + 150) * 1000,
        ),
      )
      result.produce = { ...r, rss_under_load: rss.stop() }
      if (!('error' in r)) produced = Number(r.records)
    }
    if (produced > 0) {
      const rss = new RssSampler(running.pid)
      const r = await step(`${target.name}: fetch ${produced} records`, () =>
        driver('consume', { bootstrap: running.bootstrap, topic: THROUGHPUT_TOPIC, records: produced, seconds: 120 }, 150000),
      )
      result.fetch = { ...r, rss_under_load: rss.stop() }
    } else result.fetch = { error: 'nothing was produced' }
    result.latency = await step(`${target.name}: e2e latency ${settings.latency_rate_mb_per_s} MB/s`, () =>
      driver(
        'latency',
        {
          bootstrap: running.bootstrap,
          topic: LATENCY_TOPIC,
          partitions: settings.partitions,
          'rate-mb': settings.latency_rate_mb_per_s,
          seconds: settings.latency_seconds,
          warmup: settings.latency_warmup_seconds,
          'linger-ms': 1,
          acks: 1,
        },
        (settings.latency_seconds + settings.latency_warmup_seconds + 60) * 1000,
      ),
    )
    result.rss_after_load_mb = rssMb(running.pid)
  } finally {
    await running.stop()
  }
  if (running.stderr.toString().includes('Error') && target.name === 'fjord') result.stderr_tail = running.stderr.toString().slice(-1500)

  // phase 2: a fresh instance with many partitions, then Metadata for all of them
  if (!settings.skip_metadata) {
    result.metadata = await step(`${target.name}: metadata with ${settings.metadata_partitions} partitions`, async () => {
      const per = Math.ceil(settings.metadata_partitions / settings.metadata_topics)
      const many: TopicSpec[] = []
      for (let i = 0; i < settings.metadata_topics; i++) many.push({ name: `meta-${String(i).padStart(3, '0')}`, partitions: per })
      const { running: r2, start } = await startTimed(target, many)
      try {
        const out: Json = { start_seconds: start, partitions_requested: per * many.length }
        if (target.createTopics) {
          try {
            out.create = await driver('create', { bootstrap: r2.bootstrap, topics: specs(many), 'timeout-ms': 120000 }, 180000)
          } catch (e) {
            // fall back to auto-creation through Metadata (num.partitions was set at start)
            out.create = { error: (e as Error).message.slice(0, 300), fallback: 'auto-create via Metadata v4' }
            const t = performance.now()
            await autoCreate(r2.bootstrap, many.map((m) => m.name))
            ;(out.create as Json).fallback_seconds = round((performance.now() - t) / 1000, 3)
          }
        }
        out.rss_mb = rssMb(r2.pid)
        Object.assign(out, await timeMetadata(r2.bootstrap, settings.metadata_repeats))
        return out
      } finally {
        await r2.stop()
      }
    })
  }
  return result
}

// ---------------------------------------------------------------- producers: plain, idempotent, transactional

/**
 * A fresh instance with one topic per kind of producer; plain, idempotent and transactional
 * produce one after the other, same record size, partitions, linger and batch size; each run
 * guarded on its own. Ratios are against the plain producer of this same instance.
 */
async function benchProducers(target: Target): Promise<Json> {
  const began = performance.now()
  const topics = Object.values(PRODUCERS_TOPICS).map((name) => ({ name, partitions: settings.partitions }))
  log(`${target.name}: start (producers)`)
  const { running } = await startTimed(target, topics)
  const runs: Record<string, Json> = {}
  try {
    if (target.createTopics) await driver('create', { bootstrap: running.bootstrap, topics: specs(topics) }, 30000)
    const common = {
      bootstrap: running.bootstrap,
      partitions: settings.partitions,
      size: settings.record_bytes,
      seconds: settings.producers_seconds,
      'max-bytes': settings.produce_max_mb * 1e6,
      'linger-ms': 5,
      'batch-size': 1048576,
    }
    const timeout = (settings.producers_seconds + 120) * 1000
    runs.plain = await step(`${target.name}: plain produce ${settings.producers_seconds}s`, () =>
      driver('produce', { ...common, topic: PRODUCERS_TOPICS.plain, acks: 1 }, timeout),
    )
    runs.idempotent = await step(`${target.name}: idempotent produce ${settings.producers_seconds}s`, () =>
      driver('produce', { ...common, topic: PRODUCERS_TOPICS.idempotent, idempotent: 'true' }, timeout),
    )
    runs.transactional = await step(
      `${target.name}: transactions of ${settings.txn_records} records ${settings.producers_seconds}s`,
      () =>
        driver(
          'produce',
          {
            ...common,
            topic: PRODUCERS_TOPICS.transactional,
            'transactional-id': `fjord-bench-txn-${process.pid}`,
            'txn-records': settings.txn_records,
          },
          timeout,
        ),
    )
    // the committed records must all be readable with read_committed (the mock keeps only the last
    // few MB per partition, so not there)
    const committed = get(runs.transactional, 'records')
    if (target.name !== 'mock' && committed !== undefined) {
      runs.read_committed_check = await step(`${target.name}: read_committed check of ${committed} records`, async () => {
        const r = await driver(
          'consume',
          { bootstrap: running.bootstrap, topic: PRODUCERS_TOPICS.transactional, records: committed + 1, seconds: 60, conf: 'isolation.level=read_committed' },
          90000,
        )
        return { records: r.records, expected: committed, ok: r.records === committed, reached_end: r.reached_end, mb_per_s: r.mb_per_s }
      })
    }
  } finally {
    await running.stop()
  }
  const plain = get(runs.plain, 'mb_per_s')
  const idem = get(runs.idempotent, 'mb_per_s')
  const txn = get(runs.transactional, 'mb_per_s')
  const ratio = (x: number | undefined): number | null =>
    x !== undefined && plain !== undefined && plain > 0 ? round(x / plain, 3) : null
  return {
    plain_mb_per_s: plain ?? null,
    idempotent_mb_per_s: idem ?? null,
    transactional_mb_per_s: txn ?? null,
    idempotent_ratio: ratio(idem),
    transactional_ratio: ratio(txn),
    transactions_per_s: get(runs.transactional, 'transactions_per_s') ?? null,
    records_per_transaction: settings.txn_records,
    ...runs,
    seconds: round((performance.now() - began) / 1000, 1),
  }
}

// ---------------------------------------------------------------- report

function get(obj: unknown, ...keys: string[]): number | undefined {
  let v: unknown = obj
  for (const k of keys) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Json)[k]
  }
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

function summary(r: Json): Json {
  return {
    produce_mb_per_s: get(r, 'produce', 'mb_per_s'),
    produce_records_per_s: get(r, 'produce', 'records_per_s'),
    partitions: get(r, 'produce', 'partitions'),
    fetch_mb_per_s: get(r, 'fetch', 'mb_per_s'),
    fetch_records_per_s: get(r, 'fetch', 'records_per_s'),
    e2e_p50_ms: get(r, 'latency', 'p50_ms'),
    e2e_p99_ms: get(r, 'latency', 'p99_ms'),
    e2e_p999_ms: get(r, 'latency', 'p999_ms'),
    start_to_ready_s: get(r, 'start', 'ready_line_seconds'),
    start_to_api_versions_s: get(r, 'start', 'first_api_versions_seconds'),
    idle_rss_mb: get(r, 'idle_rss_mb'),
    produce_rss_max_mb: get(r, 'produce', 'rss_under_load', 'max_mb'),
    fetch_rss_max_mb: get(r, 'fetch', 'rss_under_load', 'max_mb'),
    metadata_median_ms: get(r, 'metadata', 'median_ms'),
    idempotent_ratio: get(r, 'producers', 'idempotent_ratio'),
    transactional_ratio: get(r, 'producers', 'transactional_ratio'),
    transactions_per_s: get(r, 'producers', 'transactions_per_s'),
  }
}

function ratios(a: Json, b: Json): Json {
  const out: Json = {}
  for (const k of ['produce_mb_per_s', 'fetch_mb_per_s', 'e2e_p50_ms', 'e2e_p99_ms', 'e2e_p999_ms', 'metadata_median_ms']) {
    const x = a[k]
    const y = b[k]
    out[k] = typeof x === 'number' && typeof y === 'number' && y > 0 ? round(x / y, 3) : null
  }
  return out
}

function goals(fjord: Json | undefined, vsNull: Json | undefined): Json[] {
  const g = (name: string, goal: string, value: unknown, ok: (v: number) => boolean): Json => ({
    name,
    goal,
    value: typeof value === 'number' ? value : null,
    met: typeof value === 'number' ? ok(value) : null,
  })
  return [
    g('produce throughput vs null broker', '>= 0.8', vsNull?.produce_mb_per_s, (v) => v >= 0.8),
    g('fetch throughput vs null broker', '>= 0.8', vsNull?.fetch_mb_per_s, (v) => v >= 0.8),
    g('start to ready (s)', '<= 0.5', fjord?.start_to_ready_s, (v) => v <= 0.5),
    g('idle RSS (MB)', '<= 80', fjord?.idle_rss_mb, (v) => v <= 80),
    g('Metadata, 10 000 partitions (ms, median)', '<= 50', fjord?.metadata_median_ms, (v) => v <= 50),
  ]
}

async function main(): Promise<void> {
  const began = performance.now()
  log('building the librdkafka driver')
  const built = buildDriver()
  driverPath = built.path
  const results: Record<string, Json> = {}
  const only = settings.only
  if (only !== null && only !== 'groups' && only !== 'producers' && only !== 'replication' && only !== 'controlplane')
    throw new Error(`--only ${only}: only "groups", "producers", "replication" and "controlplane" are known`)
  for (const name of only === null ? settings.targets : []) {
    const target = targets[name]
    if (!target) {
      results[name] = { error: `unknown target ${name}` }
      continue
    }
    results[name] = await benchTarget(target)
  }
  // plain vs idempotent vs transactional produce: Fjord and the mock (the null broker has no
  // InitProducerId); a fresh instance each
  if (only === 'producers' || (only === null && !settings.skip_producers)) {
    for (const name of settings.targets) {
      const target = targets[name]
      if (!target || !settings.producers_targets.includes(name)) continue
      const r = (results[name] ??= {})
      if (r.error !== undefined) continue
      r.producers = await step(`${name}: producers`, () => benchProducers(target))
    }
  }
  const summaries: Record<string, Json> = {}
  for (const [name, r] of Object.entries(results)) if (r.error === undefined) summaries[name] = summary(r)
  const pairs: Json = {}
  for (const [a, b] of [
    ['fjord', 'null'],
    ['fjord', 'mock'],
    ['null', 'mock'],
  ] as const) {
    if (summaries[a] && summaries[b]) pairs[`${a}/${b}`] = ratios(summaries[a]!, summaries[b]!)
  }
  let groups: Json | undefined
  if (!settings.skip_groups && (only === null || only === 'groups')) {
    try {
      groups = await benchGroups({
        driverPath,
        startFjord,
        startMock: (topics) => targets.mock!.start(topics, 1),
        createTopics: (bootstrap, topics) => driver('create', { bootstrap, topics: specs(topics) }, 30000),
        track: (c) => children.add(c),
        untrack: (c) => children.delete(c),
        log,
        targets: settings.targets,
        failoverRuns: settings.groups_failover_runs,
      })
    } catch (e) {
      groups = { error: (e as Error).message }
    }
  }
  let replication: Json | undefined
  if (!settings.skip_replication && (only === null || only === 'replication') && settings.targets.includes('fjord')) {
    try {
      replication = await benchReplication({
        driverPath,
        driver,
        startFjord,
        track: (c) => children.add(c),
        untrack: (c) => children.delete(c),
        log,
        produceSeconds: settings.replication_produce_seconds,
        produceMaxMb: settings.produce_max_mb,
        latencyRateMb: settings.latency_rate_mb_per_s,
        latencySeconds: settings.latency_seconds,
        latencyWarmupSeconds: settings.latency_warmup_seconds,
        failoverRuns: settings.replication_failover_runs,
      })
    } catch (e) {
      replication = { error: (e as Error).message }
    }
  }
  let controlplane: Json | undefined
  if (!settings.skip_controlplane && (only === null || only === 'controlplane') && settings.targets.includes('fjord')) {
    try {
      controlplane = await benchControlPlane({
        driver,
        track: (c) => children.add(c),
        untrack: (c) => children.delete(c),
        log,
        quick: settings.quick,
      })
    } catch (e) {
      controlplane = { error: (e as Error).message }
    }
  }
  const report = {
    bench: 'fjord',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, librdkafka: built.librdkafka },
    settings,
    summary: summaries,
    ratios: pairs,
    goals: [
      ...goals(summaries.fjord, pairs['fjord/null'] as Json | undefined),
      ...((replication?.goals as Json[] | undefined) ?? []),
      ...((controlplane?.goals as Json[] | undefined) ?? []),
    ],
    targets: results,
    groups,
    replication,
    controlplane,
    total_seconds: round((performance.now() - began) / 1000, 1),
  }
  process.stdout.write(JSON.stringify(report, null, 2) + '\n')
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`)
  process.stdout.write(JSON.stringify({ bench: 'fjord', error: (e as Error).message }) + '\n')
  process.exitCode = 1
})
