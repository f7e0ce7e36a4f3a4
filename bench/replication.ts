// Replication figures for `npm run bench` (the `replication` key of the report), on a cluster of
// one controller and 3 brokers in 3 zones on this machine (src/cluster/local-cluster.ts):
//   produce  - RF 3 acks=all throughput as a ratio of RF 1 acks=1 and RF 1 acks=all, same cluster
//   latency  - end-to-end p50/p99/p999 at 20 MB/s, RF 3 acks=all vs RF 1 (same cluster) vs a
//              standalone single broker
//   failover - an idempotent producer at a steady rate; SIGKILL the leader of one partition; time
//              until that partition's next acknowledgement (from its new leader); median of runs
// Load comes from bench/rdkafka-driver.c (`produce`, `latency`, `acks-timeline`); see bench/README.md.

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { LocalCluster } from '../src/cluster/local-cluster.js'
import { EventProc } from './event-proc.js'

type Json = Record<string, unknown>

export interface ReplicationContext {
  driverPath: string
  /** Runs a driver mode to completion; resolves with its JSON line (rejects on error). */
  driver(mode: string, args: Record<string, string | number>, timeoutMs: number): Promise<Json>
  /** Starts a fresh standalone Fjord broker (the baseline of the latency figure). */
  startFjord(set: string[]): Promise<{ bootstrap: string; stop(): Promise<void> }>
  track(child: ChildProcess): void
  untrack(child: ChildProcess): void
  log(msg: string): void
  produceSeconds: number
  produceMaxMb: number
  latencyRateMb: number
  latencySeconds: number
  latencyWarmupSeconds: number
  failoverRuns: number
}

export const replicationSettings = {
  brokers: 3,
  zones: ['az-1', 'az-2', 'az-3'],
  metadata: 'one controller process (fjord controller, embedded metadata log) + 3 broker processes, Fjord defaults otherwise',
  partitions: 6,
  record_bytes: 1024,
  replication_factor: 3,
  min_insync_replicas: 2,
  // the settings of the `produce` figure, but a 64 MiB client queue instead of 1 GiB: with 1 GiB
  // the final flush of an RF 3 run drains ~1 GB at the RF 3 rate (~40 s); throughput is the same
  producer: { 'linger.ms': 5, 'batch.size': 1048576, 'queue.buffering.max.kbytes': 65536, compression: 'none' },
  latency_producer: { 'linger.ms': 1 },
  latency_low_rate_mb_per_s: 2,
  failover_records_per_s: 1000,
  failover_producer: { 'enable.idempotence': true, acks: 'all (idempotence)', 'linger.ms': 5 },
  failover_partition: 0,
  failover_observe_after_s: 2,
  goals: { e2e_p99_ms: 5, failover_s: 2 },
}

const TOPICS = {
  rf1Acks1: 'repl-produce-rf1-acks1',
  rf1AcksAll: 'repl-produce-rf1-acksall',
  rf3AcksAll: 'repl-produce-rf3-acksall',
  e2eRf3: 'e2e-repl-rf3',
  e2eRf3Low: 'e2e-repl-rf3-low-rate',
  e2eRf1: 'e2e-repl-rf1',
  e2eStandalone: 'e2e-standalone',
  failover: 'repl-failover',
}

const round = (v: number, d = 3): number => Math.round(v * 10 ** d) / 10 ** d
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
/** CLOCK_MONOTONIC in seconds: the clock of the driver's `t` fields. */
const mono = (): number => Number(process.hrtime.bigint()) / 1e9
const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b)
  const n = s.length
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2
}
function num(obj: unknown, ...keys: string[]): number | undefined {
  let v: unknown = obj
  for (const k of keys) v = v !== null && typeof v === 'object' ? (v as Json)[k] : undefined
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}
const ratio = (a: number | undefined, b: number | undefined): number | null =>
  a !== undefined && b !== undefined && b > 0 ? round(a / b, 3) : null

async function guarded(ctx: ReplicationContext, name: string, fn: () => Promise<Json>): Promise<Json> {
  ctx.log(name)
  try {
    return await fn()
  } catch (e) {
    const error = (e as Error).message
    ctx.log(`${name}: ${error.slice(0, 400)}`)
    return { error }
  }
}

// ---------------------------------------------------------------- the cluster

/** LocalCluster processes are detached: never leave one behind, whatever happens to the bench. */
const liveClusters = new Set<LocalCluster>()
let exitHook = false
function installExitHook(): void {
  if (exitHook) return
  exitHook = true
  process.on('exit', () => {
    for (const c of liveClusters) {
      for (const p of c.status()) {
        if (p.pid === null || p.pid <= 0) continue
        try {
          process.kill(p.pid, 'SIGKILL')
        } catch {
          // gone
        }
      }
      rmSync(c.dataDir, { recursive: true, force: true })
    }
  })
}

async function startCluster(ctx: ReplicationContext): Promise<{ cluster: LocalCluster; seconds: number }> {
  installExitHook()
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fjord-bench-cluster-'))
  let cluster: LocalCluster
  try {
    cluster = await LocalCluster.create(
      { name: 'bench', dataDir, brokers: replicationSettings.brokers, zones: replicationSettings.zones, metadata: { mode: 'embedded' } },
      // the bench decides when a killed broker comes back
      { autoRestart: false, healthCheck: false, readyTimeoutMs: 30000, stopTimeoutMs: 10000 },
    )
  } catch (e) {
    rmSync(dataDir, { recursive: true, force: true })
    throw e
  }
  liveClusters.add(cluster)
  const t0 = performance.now()
  try {
    await cluster.start()
  } catch (e) {
    liveClusters.delete(cluster)
    rmSync(dataDir, { recursive: true, force: true })
    throw e
  }
  ctx.log(`replication: cluster ready in ${round((performance.now() - t0) / 1000, 2)} s: ${cluster.bootstrap}`)
  return { cluster, seconds: (performance.now() - t0) / 1000 }
}

async function stopCluster(cluster: LocalCluster): Promise<void> {
  try {
    await cluster.stop({ timeoutMs: 10000 })
  } finally {
    liveClusters.delete(cluster)
    rmSync(cluster.dataDir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------- acks-timeline events

interface Ev {
  ev: string
  t: number
  p?: number
  b?: number
  n?: number
  gap_ms?: number
  error?: string
  reason?: string
  fatal?: boolean
  partitions?: { p: number; leader: number; isr: number[]; replicas: number[]; error: string }[]
  brokers?: number[]
  sent?: number
  delivered?: number
  failed?: number
  unflushed?: number
}


type Metadata = NonNullable<Ev['partitions']>

/** Asks the producer's client for the topic's metadata (a fresh Metadata request). */
async function metadata(proc: EventProc<Ev>): Promise<Metadata> {
  const n = proc.events.length
  proc.send('metadata')
  let found: Ev | undefined
  await proc.until('metadata', () => (found = proc.events.slice(n).find((e) => e.ev === 'metadata')) !== undefined, 10000)
  if (found!.error || !found!.partitions) throw new Error(`metadata: ${found!.error ?? 'no partitions'}`)
  return found!.partitions
}

/** Polls metadata until every partition has a leader and `isr` in-sync replicas. */
async function waitIsr(proc: EventProc<Ev>, partitions: number, isr: number, timeoutMs: number): Promise<Metadata> {
  const deadline = mono() + timeoutMs / 1000
  let last: Metadata = []
  for (;;) {
    try {
      last = await metadata(proc)
      if (last.length === partitions && last.every((p) => p.leader >= 0 && p.isr.length >= isr)) return last
    } catch (e) {
      if (proc.exited) throw e
    }
    if (mono() > deadline)
      throw new Error(`ISR of ${isr} on every partition: not within ${timeoutMs} ms; last metadata ${JSON.stringify(last)}`)
    await sleep(250)
  }
}

// ---------------------------------------------------------------- failover

async function failover(ctx: ReplicationContext, cluster: LocalCluster, runs: number): Promise<Json> {
  const P = replicationSettings.partitions
  const target = replicationSettings.failover_partition
  const proc = new EventProc<Ev>(ctx, 'acks-timeline', {
    bootstrap: cluster.bootstrap,
    topic: TOPICS.failover,
    partitions: P,
    size: replicationSettings.record_bytes,
    rate: replicationSettings.failover_records_per_s,
    idempotent: 'true',
    'linger-ms': 5,
    seconds: 600,
  })
  const results: Json[] = []
  let error: string | undefined
  try {
    await proc.until('acks-timeline started', () => proc.events.some((e) => e.ev === 'started'), 30000)
    for (let i = 0; i < runs; i++) {
      const tSteady = mono()
      await waitIsr(proc, P, replicationSettings.replication_factor, 60000)
      // every partition acknowledged lately: the producer is in its steady state
      await proc.until(
        'every partition acknowledging',
        () => {
          const now = mono()
          const recent = new Set(proc.events.filter((e) => e.ev === 'ack' && now - e.t < 1).map((e) => e.p))
          return recent.size === P
        },
        30000,
      )
      await sleep(1000 + Math.random() * 2000)
      const md = await metadata(proc)
      const leader = md.find((p) => p.p === target)?.leader ?? -1
      if (leader < 0) throw new Error(`partition ${target} has no leader: ${JSON.stringify(md)}`)
      const ledByKilled = md.filter((p) => p.leader === leader).map((p) => p.p)
      const from = proc.events.length
      const tKill = mono()
      await cluster.kill(leader, 'SIGKILL')
      ctx.log(`replication: failover run ${i + 1}/${runs}: SIGKILL broker ${leader}, leader of partitions ${ledByKilled.join(',')}`)
      const after = (): Ev[] => proc.events.slice(from)
      // the target partition's first acknowledgement by another broker than the killed one
      const newLeaderAck = (p: number): Ev | undefined =>
        after().find((e) => e.ev === 'ack' && e.p === p && e.b !== leader && e.t > tKill)
      await proc.until(`partition ${target} acknowledged by a new leader`, () => newLeaderAck(target) !== undefined, 60000)
      const recovered = newLeaderAck(target)!.t - tKill
      await proc
        .until('every partition led by the killed broker acknowledged again', () => ledByKilled.every((p) => newLeaderAck(p)), 10000)
        .catch(() => undefined)
      await sleep(replicationSettings.failover_observe_after_s * 1000)
      // for every partition: the longest silence between acknowledgements that ended after the
      // kill (a partition whose leader survived waits too, for the killed follower to leave its ISR)
      const byPartition: Json = {}
      let allResumed = 0
      for (let p = 0; p < P; p++) {
        const acks = after().filter((e) => e.ev === 'ack' && e.p === p && e.t > tKill)
        let longest: Ev | undefined
        for (const e of acks) if (longest === undefined || (e.gap_ms ?? 0) > (longest.gap_ms ?? 0)) longest = e
        const resumed = ledByKilled.includes(p) ? newLeaderAck(p)?.t : longest?.t
        if (resumed !== undefined) allResumed = Math.max(allResumed, resumed - tKill)
        byPartition[p] = {
          leader_killed: ledByKilled.includes(p),
          resumed_s: resumed === undefined ? null : round(resumed - tKill),
          longest_silence_s: longest ? round((longest.gap_ms ?? 0) / 1000) : null,
          new_leader: ledByKilled.includes(p) ? (newLeaderAck(p)?.b ?? null) : undefined,
        }
      }
      const errors = after().filter((e) => e.ev === 'error' || e.ev === 'fail')
      const fatal = errors.find((e) => e.fatal)
      // the killed broker back, then the full ISR everywhere before the next run
      const tRestart = mono()
      await cluster.restart(leader)
      const restartSeconds = mono() - tRestart
      await waitIsr(proc, P, replicationSettings.replication_factor, 60000)
      const isrSeconds = mono() - tRestart
      results.push({
        failover_s: round(recovered),
        killed_broker: leader,
        partition: target,
        partitions_led_by_killed_broker: ledByKilled,
        all_partitions_acknowledging_s: round(allResumed),
        by_partition: byPartition,
        client_errors: errors.length,
        client_error_kinds: [...new Set(errors.map((e) => e.error))],
        ...(fatal ? { fatal_error: fatal } : {}),
        restarted_ready_s: round(restartSeconds, 2),
        isr_full_again_s: round(isrSeconds, 2),
        steady_wait_s: round(tKill - tSteady, 2),
      })
    }
  } catch (e) {
    // keep the runs that completed
    error = `run ${results.length + 1}: ${(e as Error).message}`
    ctx.log(`replication: failover ${error.slice(0, 400)}`)
  } finally {
    // let the producer drain, then report what it sent and what was acknowledged
    const n = proc.events.length
    proc.send('quit')
    await proc.until('end', () => proc.events.slice(n).some((e) => e.ev === 'end'), 10000).catch(() => undefined)
    proc.kill()
  }
  const end = proc.events.find((e) => e.ev === 'end')
  if (results.length === 0) throw new Error(error ?? 'no failover run')
  const f = results.map((r) => r.failover_s as number)
  const all = results.map((r) => r.all_partitions_acknowledging_s as number)
  return {
    median_s: round(median(f)),
    min_s: round(Math.min(...f)),
    max_s: round(Math.max(...f)),
    all_partitions_median_s: round(median(all)),
    goal_s: replicationSettings.goals.failover_s,
    goal_met: median(f) <= replicationSettings.goals.failover_s,
    runs: results,
    ...(error ? { error, runs_completed: results.length } : {}),
    producer: end
      ? { sent: end.sent, delivered: end.delivered, failed: end.failed, unflushed: end.unflushed }
      : { error: 'no end event' },
    measured:
      `SIGKILL of the broker leading partition ${target} -> the producer's first delivery report for partition ${target} ` +
      'from another broker (its new leader); all_partitions: until every partition is acknowledged again',
  }
}

// ---------------------------------------------------------------- the part

export async function benchReplication(ctx: ReplicationContext): Promise<Json> {
  const t0 = performance.now()
  const P = replicationSettings.partitions
  const out: Json = {
    settings: {
      ...replicationSettings,
      produce_seconds: ctx.produceSeconds,
      latency_rate_mb_per_s: ctx.latencyRateMb,
      latency_seconds: ctx.latencySeconds,
      latency_warmup_seconds: ctx.latencyWarmupSeconds,
      failover_runs: ctx.failoverRuns,
    },
  }
  const latencyArgs = {
    partitions: P,
    'rate-mb': ctx.latencyRateMb,
    seconds: ctx.latencySeconds,
    warmup: ctx.latencyWarmupSeconds,
    'linger-ms': replicationSettings.latency_producer['linger.ms'],
  }
  const latencyTimeout = (ctx.latencySeconds + ctx.latencyWarmupSeconds + 60) * 1000
  const latency: Json = {}
  const produce: Json = {}
  out.produce = produce
  out.latency = latency

  // 1. the baseline of the latency figure: a standalone broker, alone on the machine
  latency.standalone_acks1 = await guarded(ctx, 'replication: standalone broker, e2e latency', async () => {
    const b = await ctx.startFjord([])
    try {
      await ctx.driver('create', { bootstrap: b.bootstrap, topics: `${TOPICS.e2eStandalone}:${P}` }, 30000)
      return await ctx.driver('latency', { ...latencyArgs, bootstrap: b.bootstrap, topic: TOPICS.e2eStandalone, acks: 1 }, latencyTimeout)
    } finally {
      await b.stop()
    }
  })

  // 2. the cluster
  const started = await guarded(ctx, 'replication: cluster of 3 brokers in 3 zones', async () => {
    const { cluster, seconds } = await startCluster(ctx)
    const bootstrap = cluster.bootstrap
    out.cluster = {
      start_seconds: round(seconds, 2),
      brokers: cluster.status().map((p) => ({ role: p.role, id: p.id, zone: p.zone, address: p.address })),
    }
    try {
      const create = (topics: string[], rf: number): Promise<Json> =>
        ctx.driver(
          'create',
          {
            bootstrap,
            topics: topics.map((t) => `${t}:${P}`).join(','),
            'replication-factor': rf,
            ...(rf > 1 ? { 'topic-config': `min.insync.replicas=${replicationSettings.min_insync_replicas}` } : {}),
          },
          30000,
        )
      // failover first: a SIGKILLed broker recovers every log it holds when it starts again, which
      // after the produce runs (GBs) takes 10-20 s per restart; its topics are created after it
      await create([TOPICS.failover], replicationSettings.replication_factor)
      out.failover = await guarded(ctx, `replication: failover x${ctx.failoverRuns}`, () => failover(ctx, cluster, ctx.failoverRuns))

      await create([TOPICS.rf1Acks1, TOPICS.rf1AcksAll, TOPICS.e2eRf1], 1)
      await create([TOPICS.rf3AcksAll, TOPICS.e2eRf3, TOPICS.e2eRf3Low], replicationSettings.replication_factor)

      // latency before the produce runs: those leave GBs of dirty pages whose writeback would
      // stall the brokers during the latency runs (the standalone baseline ran on a quiet machine)
      latency.rf3_acks_all = await guarded(ctx, `replication: e2e latency RF 3 acks=all ${ctx.latencyRateMb} MB/s`, () =>
        ctx.driver('latency', { ...latencyArgs, bootstrap, topic: TOPICS.e2eRf3, acks: 'all' }, latencyTimeout),
      )
      latency.rf1_acks1 = await guarded(ctx, `replication: e2e latency RF 1 acks=1 ${ctx.latencyRateMb} MB/s`, () =>
        ctx.driver('latency', { ...latencyArgs, bootstrap, topic: TOPICS.e2eRf1, acks: 1 }, latencyTimeout),
      )
      // the same at a low rate: what the replication path costs when it is not saturated
      const low = replicationSettings.latency_low_rate_mb_per_s
      latency.rf3_acks_all_low_rate = await guarded(ctx, `replication: e2e latency RF 3 acks=all ${low} MB/s`, () =>
        ctx.driver('latency', { ...latencyArgs, 'rate-mb': low, bootstrap, topic: TOPICS.e2eRf3Low, acks: 'all' }, latencyTimeout),
      )

      const common = {
        bootstrap,
        partitions: P,
        size: replicationSettings.record_bytes,
        seconds: ctx.produceSeconds,
        'max-bytes': ctx.produceMaxMb * 1e6,
        'linger-ms': replicationSettings.producer['linger.ms'],
        'batch-size': replicationSettings.producer['batch.size'],
        'queue-kbytes': replicationSettings.producer['queue.buffering.max.kbytes'],
      }
      const timeout = (ctx.produceSeconds + 150) * 1000
      produce.rf1_acks1 = await guarded(ctx, `replication: produce RF 1 acks=1 ${ctx.produceSeconds}s`, () =>
        ctx.driver('produce', { ...common, topic: TOPICS.rf1Acks1, acks: 1 }, timeout),
      )
      produce.rf1_acks_all = await guarded(ctx, `replication: produce RF 1 acks=all ${ctx.produceSeconds}s`, () =>
        ctx.driver('produce', { ...common, topic: TOPICS.rf1AcksAll, acks: 'all' }, timeout),
      )
      produce.rf3_acks_all = await guarded(ctx, `replication: produce RF 3 acks=all ${ctx.produceSeconds}s`, () =>
        ctx.driver('produce', { ...common, topic: TOPICS.rf3AcksAll, acks: 'all' }, timeout),
      )
    } finally {
      const bad = cluster.status().filter((p) => p.lastExit && !p.lastExit.expected && p.state !== 'running')
      if (bad.length) out.unexpected_exits = bad.map((p) => ({ role: p.role, id: p.id, lastExit: p.lastExit, log: cluster.logTail({ role: p.role, id: p.id }, 15) }))
      await stopCluster(cluster)
    }
    return {}
  })
  if (started.error) out.error = started.error

  // summary, ratios, goals
  const s = {
    produce_rf1_acks1_mb_per_s: num(produce, 'rf1_acks1', 'mb_per_s'),
    produce_rf1_acks_all_mb_per_s: num(produce, 'rf1_acks_all', 'mb_per_s'),
    produce_rf3_acks_all_mb_per_s: num(produce, 'rf3_acks_all', 'mb_per_s'),
    e2e_rf3_acks_all_p50_ms: num(latency, 'rf3_acks_all', 'p50_ms'),
    e2e_rf3_acks_all_p99_ms: num(latency, 'rf3_acks_all', 'p99_ms'),
    e2e_rf3_acks_all_p999_ms: num(latency, 'rf3_acks_all', 'p999_ms'),
    e2e_rf3_acks_all_low_rate_p50_ms: num(latency, 'rf3_acks_all_low_rate', 'p50_ms'),
    e2e_rf3_acks_all_low_rate_p99_ms: num(latency, 'rf3_acks_all_low_rate', 'p99_ms'),
    e2e_rf3_acks_all_low_rate_p999_ms: num(latency, 'rf3_acks_all_low_rate', 'p999_ms'),
    e2e_rf1_p50_ms: num(latency, 'rf1_acks1', 'p50_ms'),
    e2e_rf1_p99_ms: num(latency, 'rf1_acks1', 'p99_ms'),
    e2e_rf1_p999_ms: num(latency, 'rf1_acks1', 'p999_ms'),
    e2e_standalone_p50_ms: num(latency, 'standalone_acks1', 'p50_ms'),
    e2e_standalone_p99_ms: num(latency, 'standalone_acks1', 'p99_ms'),
    e2e_standalone_p999_ms: num(latency, 'standalone_acks1', 'p999_ms'),
    failover_median_s: num(out.failover, 'median_s'),
    failover_all_partitions_median_s: num(out.failover, 'all_partitions_median_s'),
  }
  out.summary = s
  out.ratios = {
    'produce_rf3_acks_all/rf1_acks1': ratio(s.produce_rf3_acks_all_mb_per_s, s.produce_rf1_acks1_mb_per_s),
    'produce_rf3_acks_all/rf1_acks_all': ratio(s.produce_rf3_acks_all_mb_per_s, s.produce_rf1_acks_all_mb_per_s),
    'produce_rf1_acks_all/rf1_acks1': ratio(s.produce_rf1_acks_all_mb_per_s, s.produce_rf1_acks1_mb_per_s),
    'e2e_rf3/rf1': {
      p50: ratio(s.e2e_rf3_acks_all_p50_ms, s.e2e_rf1_p50_ms),
      p99: ratio(s.e2e_rf3_acks_all_p99_ms, s.e2e_rf1_p99_ms),
      p999: ratio(s.e2e_rf3_acks_all_p999_ms, s.e2e_rf1_p999_ms),
    },
    'e2e_rf3/standalone': {
      p50: ratio(s.e2e_rf3_acks_all_p50_ms, s.e2e_standalone_p50_ms),
      p99: ratio(s.e2e_rf3_acks_all_p99_ms, s.e2e_standalone_p99_ms),
      p999: ratio(s.e2e_rf3_acks_all_p999_ms, s.e2e_standalone_p999_ms),
    },
  }
  const g = (name: string, goal: string, value: number | undefined, ok: (v: number) => boolean): Json => ({
    name,
    goal,
    value: value ?? null,
    met: value === undefined ? null : ok(value),
  })
  const goals = [
    g(
      `e2e latency p99 at ${ctx.latencyRateMb} MB/s, RF 3 acks=all, 3-broker cluster (ms)`,
      `<= ${replicationSettings.goals.e2e_p99_ms}`,
      s.e2e_rf3_acks_all_p99_ms,
      (v) => v <= replicationSettings.goals.e2e_p99_ms,
    ),
    g(
      `failover: SIGKILL of a partition leader -> that partition's next acknowledged write (s, median of ${ctx.failoverRuns})`,
      `<= ${replicationSettings.goals.failover_s}`,
      s.failover_median_s,
      (v) => v <= replicationSettings.goals.failover_s,
    ),
  ]
  out.goals = goals
  latency.goal_met = goals[0]!.met
  out.seconds = round((performance.now() - t0) / 1000, 1)
  return out
}
