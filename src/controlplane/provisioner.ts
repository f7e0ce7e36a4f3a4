// Provisioning: where a cluster lives on this machine and what runs for it. One LocalCluster
// (src/cluster) per MSK cluster under <root>/clusters/<name>-<uuid prefix>/kafka, its ZooKeeper
// ensemble (for non-KRaft versions) under .../zookeeper/node-<id>; zones named after the region
// from the client subnets (subnet i ↔ zone `${region}${'abc'[i]}`), brokers spread round-robin
// over them; ports chosen so that no two clusters of this control plane ever share one (every
// port in use is read from the store's runtimes and the clusters' cluster.json files, and a port
// handed out once in this process is never handed out again). With a broker port base (`fjord
// start` passes 9092, MSK's plaintext port), broker N is given base + N - 1 when that port is
// free and unused, a free port otherwise.

import { existsSync, rmSync } from 'node:fs'
import path from 'node:path'
import { LocalCluster, type ClusterLogger, type ClusterOptions } from '../cluster/local-cluster.js'
import { allocatePorts, isPortFree } from '../cluster/ports.js'
import { hasClusterFile, readClusterFile } from '../cluster/spec.js'
import type { BrokerRuntime, ClusterRecord, ClusterRuntime, ClusterSpec, ConfigurationRecord } from './model.js'
import { ENSEMBLE_SIZE, PORTS_PER_NODE, ensembleOf, ensemblePorts, planEnsemble } from './zookeeper.js'

export const GiB = 2 ** 30
const ZONE_LETTERS = 'abcdefghijklmnopqrstuvwxyz'

/** `<root>/clusters/<name>-<first 8 chars of the uuid>` */
export function clusterDirFor(root: string, cluster: Pick<ClusterRecord, 'name' | 'uuid'>): string {
  const safe = cluster.name.replace(/[^A-Za-z0-9._-]/g, '_')
  return path.join(path.resolve(root), 'clusters', `${safe}-${cluster.uuid.replace(/-/g, '').slice(0, 8)}`)
}

/** The LocalCluster's data dir inside a cluster's dir. */
export function kafkaDirOf(clusterDir: string): string {
  return path.join(clusterDir, 'kafka')
}

export function zookeeperDirOf(clusterDir: string): string {
  return path.join(clusterDir, 'zookeeper')
}

/** The cluster's client subnets (provisioned) or its first VPC config's subnets (serverless). */
export function subnetsOf(spec: ClusterSpec): string[] {
  const s = spec.brokerNodeGroupInfo?.clientSubnets ?? spec.serverless?.vpcConfigs[0]?.subnetIds ?? []
  return s.length > 0 ? s : ['subnet-default']
}

/** Zone i of a region is `${region}${letter i}`: us-east-1a, us-east-1b, … one per client subnet. */
export function zonesFor(region: string, subnets: readonly string[]): { zone: string; subnet: string }[] {
  return subnets.map((subnet, i) => ({ zone: `${region}${ZONE_LETTERS[i] ?? String(i)}`, subnet }))
}

/** Whether the cluster's Kafka version runs without ZooKeeper (`3.7.x.kraft`). */
export function isKraft(kafkaVersion: string): boolean {
  return /\.kraft$/i.test(kafkaVersion)
}

/** The volume size (bytes) of broker `id` under `spec`: its own (brokerVolumeSizeGiB) or the cluster's. */
export function volumeBytesOf(spec: Pick<ClusterSpec, 'brokerNodeGroupInfo' | 'brokerVolumeSizeGiB'>, id: number): number {
  const own = spec.brokerVolumeSizeGiB?.[String(id)]
  const gib = own ?? spec.brokerNodeGroupInfo?.storageInfo?.ebsStorageInfo?.volumeSize ?? 100
  return Math.round(gib * GiB)
}

/** key=value lines of a server.properties text (comments and blank lines skipped). */
export function parseServerProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue
    const i = line.search(/[=:]/)
    if (i <= 0) continue
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim()
  }
  return out
}

/** Broker settings the launcher or the control plane manage; a configuration may not set them. */
const MANAGED = new Set(['broker.id', 'listeners', 'log.dirs', 'broker.rack', 'controller.endpoints', 'advertised.listeners', 'cluster.id', 'node.id', 'process.roles'])

/**
 * What every broker of the cluster is started with: MSK's default configuration for the cluster's
 * size (https://docs.aws.amazon.com/msk/latest/developerguide/msk-default-configuration.html:
 * auto.create.topics.enable=false, default.replication.factor=3 and min.insync.replicas=2 for
 * three zones, unclean.leader.election.enable=true, …; capped at the broker count), then the
 * configuration revision's server.properties, then volume.size.bytes from the storage size.
 */
export function brokerSettingsFor(spec: ClusterSpec, brokerCount: number, configuration: ConfigurationRecord | undefined): Record<string, string> {
  const rf = Math.min(3, brokerCount)
  const settings: Record<string, string> = {
    'auto.create.topics.enable': 'false',
    'default.replication.factor': String(rf),
    'min.insync.replicas': String(rf >= 3 ? 2 : 1),
    'num.partitions': '1',
    'offsets.topic.replication.factor': String(rf),
    'transaction.state.log.replication.factor': String(rf),
    'transaction.state.log.min.isr': String(rf >= 3 ? 2 : 1),
    'unclean.leader.election.enable': 'true',
    'replica.lag.time.max.ms': '30000',
    'log.retention.ms': String(168 * 3600 * 1000),
  }
  const info = spec.configurationInfo
  if (info && configuration) {
    const rev = configuration.revisions.find((r) => r.revision === info.revision)
    if (!rev) throw new Error(`configuration ${info.arn} has no revision ${info.revision}`)
    for (const [k, v] of Object.entries(parseServerProperties(rev.serverProperties))) if (!MANAGED.has(k)) settings[k] = v
  }
  settings['volume.size.bytes'] = String(volumeBytesOf(spec, -1))
  return settings
}

export interface ProvisionerOptions {
  /** Where clusters live: <root>/clusters/… */
  root: string
  host?: string
  logger?: ClusterLogger
  /** Passed to every LocalCluster (tests shorten the back-off or the health checks). */
  clusterOptions?: Omit<ClusterOptions, 'logger'>
  /** Broker N's preferred port is brokerPortBase + N - 1 (when free); 0 or absent: any free port. */
  brokerPortBase?: number
}

/** The LocalClusters of the control plane, by cluster ARN, and the ports they use. */
export class Provisioner {
  readonly root: string
  readonly host: string
  readonly #log: ClusterLogger | undefined
  readonly #clusterOptions: Omit<ClusterOptions, 'logger'>
  readonly #clusters = new Map<string, LocalCluster>()
  /** Every port handed out by this process. */
  readonly #handedOut = new Set<number>()
  readonly #portBase: number

  constructor(opts: ProvisionerOptions) {
    this.root = path.resolve(opts.root)
    this.host = opts.host ?? '127.0.0.1'
    this.#log = opts.logger
    this.#clusterOptions = opts.clusterOptions ?? {}
    this.#portBase = opts.brokerPortBase ?? 0
  }

  get(arn: string): LocalCluster | undefined {
    return this.#clusters.get(arn)
  }

  /** Every port a cluster of `records` uses (brokers, ZooKeeper, controllers from cluster.json). */
  portsInUse(records: readonly ClusterRecord[]): Set<number> {
    const used = new Set(this.#handedOut)
    for (const r of records) {
      const rt = r.runtime
      if (!rt) continue
      for (const b of rt.brokers) used.add(b.port)
      if (rt.zookeeper) for (const p of ensemblePorts(ensembleOf(rt.zookeeper))) used.add(p)
      const kdir = kafkaDirOf(rt.dataDir)
      if (hasClusterFile(kdir)) {
        try {
          const f = readClusterFile(kdir)
          for (const m of [...f.brokers, ...f.controllers]) used.add(m.port)
        } catch {
          /* half-written: its runtime has the broker ports */
        }
      }
    }
    return used
  }

  /** `count` free ports that no cluster of `records` uses and this process never handed out. */
  async ports(count: number, records: readonly ClusterRecord[]): Promise<number[]> {
    const ports = await allocatePorts(this.host, count, this.portsInUse(records))
    for (const p of ports) this.#handedOut.add(p)
    return ports
  }

  /**
   * Ports for brokers `ids`: with a port base, base + id - 1 where that port is free, unused by
   * any cluster and not handed out before (a warning names the ones that are not); free ports for
   * the rest.
   */
  async brokerPorts(ids: readonly number[], records: readonly ClusterRecord[]): Promise<number[]> {
    const out: (number | null)[] = []
    const used = this.portsInUse(records)
    const taken: number[] = []
    for (const id of ids) {
      const want = this.#portBase > 0 ? this.#portBase + id - 1 : 0
      if (want > 0 && want <= 65535 && !used.has(want) && (await isPortFree(this.host, want))) {
        out.push(want)
        used.add(want)
        this.#handedOut.add(want)
      } else {
        if (want > 0) taken.push(want)
        out.push(null)
      }
    }
    const rest = await this.ports(out.filter((p) => p === null).length, records)
    if (taken.length > 0) this.#log?.warn({ ports: taken }, 'preferred broker ports taken: brokers get free ports instead')
    return out.map((p) => p ?? rest.shift()!)
  }

  /**
   * The runtime a new cluster will have: its dir, zones, broker ids 1..N round-robin over the
   * zones, their ports and volume sizes; `controllerPorts` for the LocalCluster. Nothing starts.
   */
  async planRuntime(cluster: ClusterRecord, all: readonly ClusterRecord[], zookeeper: boolean): Promise<{ runtime: ClusterRuntime; controllerPorts: number[] }> {
    const dir = clusterDirFor(this.root, cluster)
    const zones = zonesFor(cluster.region, subnetsOf(cluster.spec))
    const n = cluster.spec.numberOfBrokerNodes
    const controllers = zookeeper ? 2 : 1
    const ids = Array.from({ length: n }, (_, i) => i + 1)
    const zkPorts = zookeeper ? ENSEMBLE_SIZE * PORTS_PER_NODE : 0
    const ports = [...(await this.brokerPorts(ids, all)), ...(await this.ports(controllers + zkPorts, all))]
    const now = new Date().toISOString()
    const brokers: BrokerRuntime[] = Array.from({ length: n }, (_, i) => {
      const z = zones[i % zones.length]!
      const id = i + 1
      return {
        id,
        zone: z.zone,
        clientSubnet: z.subnet,
        host: this.host,
        port: ports[i]!,
        dataDir: path.join(kafkaDirOf(dir), `broker-${id}`),
        volumeSizeBytes: volumeBytesOf(cluster.spec, id),
        usedBytes: null,
        usedAt: null,
        addedTime: now,
      }
    })
    return {
      runtime: {
        dataDir: dir,
        metadataMode: zookeeper ? 'zookeeper' : 'embedded',
        zookeeper: zookeeper ? planEnsemble(zookeeperDirOf(dir), this.host, ports.slice(n + controllers)) : null,
        notice: null,
        brokers,
        lastAutoScaleAt: null,
      },
      controllerPorts: ports.slice(n, n + controllers),
    }
  }

  /**
   * The cluster's LocalCluster: adopted when its cluster.json exists (a resumed create, a control
   * plane restart), created from the runtime otherwise. Starts nothing.
   */
  async open(arn: string, runtime: ClusterRuntime, name: string, settings: Record<string, string>, controllerPorts: number[], zones: string[]): Promise<LocalCluster> {
    const existing = this.#clusters.get(arn)
    if (existing) return existing
    const kdir = kafkaDirOf(runtime.dataDir)
    const options: ClusterOptions = { ...this.#clusterOptions, ...(this.#log ? { logger: this.#log } : {}) }
    let lc: LocalCluster
    if (hasClusterFile(kdir)) {
      lc = await LocalCluster.adopt(kdir, { ...options, force: true })
    } else {
      lc = await LocalCluster.create({
        name,
        dataDir: kdir,
        brokers: runtime.brokers.length,
        brokerIds: runtime.brokers.map((b) => b.id),
        zones,
        host: this.host,
        metadata: runtime.zookeeper
          ? { mode: 'zookeeper', connect: runtime.zookeeper.connect, controllers: controllerPorts.length }
          : { mode: 'embedded' },
        brokerSettings: settings,
        ports: { brokers: runtime.brokers.map((b) => b.port), controllers: controllerPorts },
      }, options)
    }
    this.#clusters.set(arn, lc)
    return lc
  }

  /** Adopts the processes of an existing cluster (control-plane start); null when it never got a cluster.json. */
  async adopt(arn: string, runtime: ClusterRuntime): Promise<LocalCluster | null> {
    const existing = this.#clusters.get(arn)
    if (existing) return existing
    if (!hasClusterFile(kafkaDirOf(runtime.dataDir))) return null
    return this.open(arn, runtime, '', {}, [], [])
  }

  /** Stops every process of the cluster (adopting it first when this process does not supervise it) and forgets it. */
  async stop(arn: string, runtime: ClusterRuntime | null): Promise<void> {
    let lc = this.#clusters.get(arn)
    if (!lc && runtime && hasClusterFile(kafkaDirOf(runtime.dataDir))) {
      lc = await LocalCluster.adopt(kafkaDirOf(runtime.dataDir), { autoRestart: false, healthCheck: false, force: true })
    }
    if (lc) {
      lc.removeAllListeners()
      await lc.stop({ timeoutMs: 10_000 })
      lc.detach()
    }
    this.#clusters.delete(arn)
  }

  /** Removes the cluster's directory (its processes stopped first). */
  removeDir(runtime: ClusterRuntime | null): void {
    if (runtime && existsSync(runtime.dataDir)) rmSync(runtime.dataDir, { recursive: true, force: true })
  }

  /** Lets go of every cluster; `stop` stops their processes first. */
  async closeAll(stop: boolean): Promise<void> {
    await Promise.all([...this.#clusters.values()].map(async (lc) => {
      lc.removeAllListeners()
      if (stop) await lc.stop({ timeoutMs: 10_000 }).catch(() => {})
      lc.detach()
    }))
    this.#clusters.clear()
  }

  forget(arn: string): void {
    this.#clusters.delete(arn)
  }
}
