// Control-plane figures for `npm run bench` (the `controlplane` key of the report): the control
// plane runs as `fjord controlplane` (a subprocess on a temporary data dir) and is driven through
// its MSK API with @aws-sdk/client-kafka, the Kafka load comes from bench/rdkafka-driver.c.
//   create_to_active - CreateClusterV2 (3 brokers, 3 zones) until DescribeClusterV2 says ACTIVE,
//                      median of runs; baseline: LocalCluster starting the same processes directly
//                      (controller + 3 brokers, no control plane), same run → the control plane's
//                      own cost as a ratio
//   create_to_active_zookeeper - the same with a version without .kraft (the control plane starts
//                      a three-node ZooKeeper ensemble first); baseline: the KRaft median above
//   rebalance        - UpdateBrokerCount 3 → 6 with `rebalance_mb` of acks=all data (RF 3) in the
//                      cluster, until ACTIVE (the new brokers hold their share); baseline: the time
//                      the same data took to be produced → ratio
//   rolling_latency  - end-to-end p99 (librdkafka producer → consumer, acks=all, RF 3) while an
//                      UpdateClusterConfiguration restarts the brokers one at a time, against the
//                      same measurement just before it → ratio
// Not a pass/fail test; see bench/README.md.

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import {
  CreateClusterV2Command,
  CreateConfigurationCommand,
  DeleteClusterCommand,
  DescribeClusterV2Command,
  GetBootstrapBrokersCommand,
  KafkaClient,
  type Cluster,
  UpdateBrokerCountCommand,
  UpdateClusterConfigurationCommand,
} from '@aws-sdk/client-kafka'
import { LocalCluster } from '../src/cluster/local-cluster.js'

type Json = Record<string, unknown>

export interface ControlPlaneBenchContext {
  /** Runs a driver mode to completion; resolves with its JSON line (rejects on error). */
  driver(mode: string, args: Record<string, string | number>, timeoutMs: number): Promise<Json>
  track(child: ChildProcess): void
  untrack(child: ChildProcess): void
  log(msg: string): void
  quick: boolean
}

const here = path.dirname(fileURLToPath(import.meta.url)) // dist/bench
const FJORD_MAIN_JS = path.resolve(here, '../src/cli/main.js')

export const controlPlaneSettings = {
  brokers: 3,
  subnets: ['subnet-bench-a', 'subnet-bench-b', 'subnet-bench-c'],
  kafka_version: '3.7.x.kraft',
  /** A version without .kraft: the cluster gets a three-node ZooKeeper ensemble first. */
  zookeeper_kafka_version: '3.7.x',
  create_runs: 3,
  rebalance_partitions: 12,
  replication_factor: 3,
  min_insync_replicas: 2,
  rebalance_mb: { full: 1024, quick: 200 },
  latency_rate_mb_per_s: 2,
  latency_before_seconds: { full: 10, quick: 6 },
  latency_window_seconds: { full: 60, quick: 40 },
  latency_producer: { acks: 'all', 'linger.ms': 1 },
  goals: { create_to_active_s: 5 },
}

const round = (v: number, d = 3): number => Math.round(v * 10 ** d) / 10 ** d
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b)
  const n = s.length
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2
}
const ratio = (a: number | undefined | null, b: number | undefined | null): number | null =>
  typeof a === 'number' && typeof b === 'number' && b > 0 ? round(a / b, 3) : null

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

/** `fjord controlplane` as a subprocess; stop() deletes what it still runs and removes its data dir. */
async function startControlPlane(ctx: ControlPlaneBenchContext): Promise<{ endpoint: string; msk: KafkaClient; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fjord-bench-controlplane-'))
  const port = await freePort()
  const child = spawn(process.execPath, [FJORD_MAIN_JS, 'controlplane', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  ctx.track(child)
  let out = ''
  child.stdout!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-8000)))
  child.stderr!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-8000)))
  const deadline = Date.now() + 30_000
  while (!/Fjord control plane ready/.test(out)) {
    if (child.exitCode !== null) throw new Error(`fjord controlplane exited: ${out}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`fjord controlplane not ready: ${out}`)
    }
    await sleep(50)
  }
  const endpoint = `http://127.0.0.1:${port}`
  const msk = new KafkaClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' } })
  return {
    endpoint,
    msk,
    stop: async () => {
      msk.destroy()
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await Promise.race([exited, sleep(15_000)])
      ctx.untrack(child)
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

async function waitState(msk: KafkaClient, arn: string, state: string, timeoutMs: number, pollMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const info = (await msk.send(new DescribeClusterV2Command({ ClusterArn: arn }))).ClusterInfo!
    if (info.State === state) return
    if (info.State === 'FAILED') throw new Error(`cluster FAILED: ${JSON.stringify(info.StateInfo)}`)
    if (Date.now() > deadline) throw new Error(`not ${state} within ${timeoutMs} ms (${info.State})`)
    await sleep(pollMs)
  }
}

async function waitGone(msk: KafkaClient, arn: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const gone = await msk.send(new DescribeClusterV2Command({ ClusterArn: arn })).then(() => false, (e: { name?: string }) => e.name === 'NotFoundException')
    if (gone) return
    if (Date.now() > deadline) throw new Error(`cluster still there ${timeoutMs} ms after DeleteCluster`)
    await sleep(100)
  }
}

async function createCluster(msk: KafkaClient, name: string, kafkaVersion = controlPlaneSettings.kafka_version): Promise<string> {
  const r = await msk.send(new CreateClusterV2Command({
    ClusterName: name,
    Provisioned: {
      KafkaVersion: kafkaVersion,
      NumberOfBrokerNodes: controlPlaneSettings.brokers,
      BrokerNodeGroupInfo: { InstanceType: 'kafka.m5.large', ClientSubnets: controlPlaneSettings.subnets, StorageInfo: { EbsStorageInfo: { VolumeSize: 100 } } },
    },
  }))
  return r.ClusterArn!
}

/** Seconds from CreateClusterV2 until ACTIVE; `check` looks at the ACTIVE cluster before it is deleted again. */
async function timeCreate(msk: KafkaClient, name: string, kafkaVersion: string, check?: (info: Cluster) => void): Promise<number> {
  const t0 = performance.now()
  const arn = await createCluster(msk, name, kafkaVersion)
  await waitState(msk, arn, 'ACTIVE', 120_000)
  const seconds = (performance.now() - t0) / 1000
  check?.((await msk.send(new DescribeClusterV2Command({ ClusterArn: arn }))).ClusterInfo!)
  await msk.send(new DeleteClusterCommand({ ClusterArn: arn }))
  await waitGone(msk, arn, 60_000)
  return seconds
}

const version = async (msk: KafkaClient, arn: string): Promise<string> => (await msk.send(new DescribeClusterV2Command({ ClusterArn: arn }))).ClusterInfo!.CurrentVersion!
const bootstrapOf = async (msk: KafkaClient, arn: string): Promise<string> => (await msk.send(new GetBootstrapBrokersCommand({ ClusterArn: arn }))).BootstrapBrokerString!

/** The launcher alone: a controller and 3 brokers started by LocalCluster, seconds until all are ready. */
async function launcherBaseline(): Promise<number> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fjord-bench-launcher-'))
  const cluster = await LocalCluster.create(
    { name: 'bench-launcher', dataDir, brokers: 3, zones: 3, metadata: { mode: 'embedded' } },
    { autoRestart: false, healthCheck: false, readyTimeoutMs: 30_000, stopTimeoutMs: 10_000 },
  )
  const t0 = performance.now()
  try {
    await cluster.start()
    return (performance.now() - t0) / 1000
  } finally {
    await cluster.stop({ timeoutMs: 10_000 }).catch(() => undefined)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function guarded(ctx: ControlPlaneBenchContext, name: string, fn: () => Promise<Json>): Promise<Json> {
  ctx.log(`controlplane: ${name}`)
  try {
    return await fn()
  } catch (e) {
    const error = (e as Error).message
    ctx.log(`controlplane: ${name}: ${error.slice(0, 400)}`)
    return { error }
  }
}

export async function benchControlPlane(ctx: ControlPlaneBenchContext): Promise<Json> {
  const s = controlPlaneSettings
  const cp = await startControlPlane(ctx)
  const out: Json = { settings: { ...s, rebalance_mb: ctx.quick ? s.rebalance_mb.quick : s.rebalance_mb.full } }
  try {
    out.create_to_active = await guarded(ctx, 'CreateCluster → ACTIVE', async () => {
      const runs: number[] = []
      const launcher: number[] = []
      for (let i = 0; i < s.create_runs; i++) {
        launcher.push(await launcherBaseline())
        runs.push(await timeCreate(cp.msk, `bench-create-${i}`, s.kafka_version))
      }
      const med = median(runs)
      return {
        runs_s: runs.map((v) => round(v, 3)),
        median_s: round(med, 3),
        launcher_start_runs_s: launcher.map((v) => round(v, 3)),
        launcher_start_median_s: round(median(launcher), 3),
        vs_launcher: ratio(med, median(launcher)),
      }
    })

    out.create_to_active_zookeeper = await guarded(ctx, 'CreateCluster → ACTIVE with ZooKeeper', async () => {
      const kraft = out.create_to_active as { median_s?: number }
      const runs: number[] = []
      for (let i = 0; i < s.create_runs; i++) {
        runs.push(await timeCreate(cp.msk, `bench-create-zk-${i}`, s.zookeeper_kafka_version, (info) => {
          if (!info.Provisioned?.ZookeeperConnectString) throw new Error(`no ZooKeeper ensemble: ${info.StateInfo?.Message ?? 'no state info'}`)
        }))
      }
      const med = median(runs)
      return {
        runs_s: runs.map((v) => round(v, 3)),
        median_s: round(med, 3),
        kraft_median_s: kraft.median_s ?? null,
        vs_kraft: typeof kraft.median_s === 'number' ? ratio(med, kraft.median_s) : null,
      }
    })

    const arn = await createCluster(cp.msk, 'bench-cluster')
    await waitState(cp.msk, arn, 'ACTIVE', 120_000)
    let bootstrap = await bootstrapOf(cp.msk, arn)

    out.rolling_latency = await guarded(ctx, 'p99 during a rolling configuration update', async () => {
      const topic = 'e2e-rolling'
      await ctx.driver('create', { bootstrap, topics: `${topic}:6`, 'replication-factor': s.replication_factor, 'topic-config': `min.insync.replicas=${s.min_insync_replicas}` }, 60_000)
      const latencyArgs = { bootstrap, topic, partitions: 6, 'rate-mb': s.latency_rate_mb_per_s, warmup: 2, 'linger-ms': 1, acks: 'all' }
      const beforeSeconds = ctx.quick ? s.latency_before_seconds.quick : s.latency_before_seconds.full
      const before = await ctx.driver('latency', { ...latencyArgs, seconds: beforeSeconds }, (beforeSeconds + 60) * 1000)
      const cfg = await cp.msk.send(new CreateConfigurationCommand({ Name: 'bench-rolling', KafkaVersions: [s.kafka_version], ServerProperties: new TextEncoder().encode('log.retention.hours=170\n') }))
      const window = ctx.quick ? s.latency_window_seconds.quick : s.latency_window_seconds.full
      const during = ctx.driver('latency', { ...latencyArgs, seconds: window }, (window + 60) * 1000)
      await sleep(3000) // past the driver's warm-up
      const t0 = performance.now()
      await cp.msk.send(new UpdateClusterConfigurationCommand({ ClusterArn: arn, CurrentVersion: await version(cp.msk, arn), ConfigurationInfo: { Arn: cfg.Arn!, Revision: 1 } }))
      await waitState(cp.msk, arn, 'ACTIVE', window * 1000, 100)
      const rollSeconds = (performance.now() - t0) / 1000
      const d = await during
      return {
        roll_s: round(rollSeconds, 2),
        roll_within_window: rollSeconds + 3 < window,
        window_s: window,
        before,
        during: d,
        p99_during_vs_before: ratio(d.p99_ms as number, before.p99_ms as number),
      }
    })

    out.rebalance = await guarded(ctx, 'UpdateBrokerCount 3 → 6 with data', async () => {
      const mb = ctx.quick ? s.rebalance_mb.quick : s.rebalance_mb.full
      const topic = 'rebalance-data'
      await ctx.driver('create', { bootstrap, topics: `${topic}:${s.rebalance_partitions}`, 'replication-factor': s.replication_factor, 'topic-config': `min.insync.replicas=${s.min_insync_replicas}` }, 60_000)
      const load = await ctx.driver('produce', { bootstrap, topic, partitions: s.rebalance_partitions, size: 1024, seconds: 3600, 'max-bytes': mb * 1e6, acks: 'all', 'queue-kbytes': 65536 }, 3_600_000)
      const loadSeconds = load.seconds as number
      const t0 = performance.now()
      await cp.msk.send(new UpdateBrokerCountCommand({ ClusterArn: arn, CurrentVersion: await version(cp.msk, arn), TargetNumberOfBrokerNodes: 6 }))
      await waitState(cp.msk, arn, 'ACTIVE', 3_600_000, 250)
      const rebalanceSeconds = (performance.now() - t0) / 1000
      bootstrap = await bootstrapOf(cp.msk, arn)
      const check = await ctx.driver('consume', { bootstrap, topic, records: load.records as number, seconds: 600 }, 660_000)
      return {
        data_mb: round(((load.bytes as number) ?? mb * 1e6) / 1e6, 1),
        load_s: round(loadSeconds, 2),
        rebalance_s: round(rebalanceSeconds, 2),
        rebalance_vs_load: ratio(rebalanceSeconds, loadSeconds),
        read_back_after: { records: check.records, expected: load.records },
      }
    })
    await cp.msk.send(new DeleteClusterCommand({ ClusterArn: arn })).catch(() => undefined)
    await waitGone(cp.msk, arn, 120_000).catch(() => undefined)
  } finally {
    await cp.stop()
  }
  const create = out.create_to_active as Json
  out.goals = [
    {
      name: 'CreateCluster → ACTIVE, 3 brokers (s, median)',
      goal: `<= ${s.goals.create_to_active_s}`,
      value: typeof create.median_s === 'number' ? create.median_s : null,
      met: typeof create.median_s === 'number' ? create.median_s <= s.goals.create_to_active_s : null,
    },
  ]
  return out
}
