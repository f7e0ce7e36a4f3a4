// What a local cluster is made of, and the cluster.json file that remembers it (with the ports
// and pids) so that a later supervisor can find the processes again.

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export type Role = 'broker' | 'controller'

/**
 * Where the cluster metadata lives:
 * - `embedded`: one controller process keeping the metadata log on its own disk;
 * - `zookeeper`: `controllers` controller candidates sharing the ZooKeeper at `connect`
 *   (`host:port[,host:port][/chroot]`), one of them active;
 * - `standalone`: no controller process; every broker runs its own embedded controller, so the
 *   brokers are independent single-broker clusters (development and tests only).
 */
export type MetadataSpec =
  | { mode: 'embedded' }
  | { mode: 'zookeeper'; connect: string; controllers: number }
  | { mode: 'standalone' }

/**
 * Ports: `base` gives brokers base, base+1, … (in broker order) and the controllers the ports
 * after the brokers'; lists give them one by one (a missing list, or a missing entry, is a free
 * port chosen at creation). Either way the ports are kept for the cluster's life.
 */
export type PortsSpec = { base: number } | { brokers?: number[]; controllers?: number[] }

export interface ClusterSpec {
  name: string
  /** Everything lives under it: `cluster.json`, `broker-<id>/`, `controller-<id>/`. */
  dataDir: string
  /** How many brokers. */
  brokers: number
  /** Their ids; default 1..brokers. */
  brokerIds?: number[]
  /** Zone count (named az-1, az-2, …) or the zone names; brokers are spread round-robin. */
  zones: number | string[]
  metadata: MetadataSpec
  /** Passed to every broker as `--set key=value` (not the keys the launcher manages itself). */
  brokerSettings?: Record<string, string>
  /** Address every process listens on; default 127.0.0.1. */
  host?: string
  ports?: PortsSpec
  /** Controller ids; default 1001, 1002, … */
  controllerIds?: number[]
  /** Passed to every controller as `--set key=value` (broker.session.timeout.ms, …). */
  controllerSettings?: Record<string, string>
  /** The cluster id the controller creates the metadata with (`--cluster-id`); default its own. */
  clusterId?: string
}

/** Broker settings the launcher sets itself; a spec may not override them. */
export const MANAGED_BROKER_SETTINGS = ['broker.id', 'listeners', 'log.dirs', 'broker.rack', 'controller.endpoints'] as const

export const FIRST_CONTROLLER_ID = 1001

export interface MemberRecord {
  role: Role
  id: number
  /** Brokers only. */
  zone: string | null
  port: number
  /** The process last started for it, null when none is known to run. */
  pid: number | null
  /** Whether it should be running (false after a requested stop). */
  wanted: boolean
}

/** The content of `<dataDir>/cluster.json`. */
export interface ClusterFile {
  format: 1
  name: string
  host: string
  zones: string[]
  metadata: MetadataSpec
  brokerSettings: Record<string, string>
  controllerSettings: Record<string, string>
  clusterId: string | null
  /** Set when the ports came from a base: brokers added later take the next free port after it. */
  portBase: number | null
  controllers: MemberRecord[]
  brokers: MemberRecord[]
  /** The process supervising the cluster, null when none (stopped, or detached). */
  supervisorPid: number | null
  updatedAt: string
}

export const CLUSTER_FILE = 'cluster.json'

export function clusterFilePath(dataDir: string): string {
  return path.join(dataDir, CLUSTER_FILE)
}

export function hasClusterFile(dataDir: string): boolean {
  return existsSync(clusterFilePath(dataDir))
}

export function readClusterFile(dataDir: string): ClusterFile {
  const file = clusterFilePath(dataDir)
  let parsed: ClusterFile
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as ClusterFile
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`)
  }
  if (parsed.format !== 1 || !Array.isArray(parsed.brokers) || !Array.isArray(parsed.controllers)) {
    throw new Error(`${file} is not a Fjord cluster file (format ${String(parsed.format)})`)
  }
  return parsed
}

/** Written to a temporary file and renamed, so a reader never sees half a file. */
export function writeClusterFile(dataDir: string, content: ClusterFile): void {
  const file = clusterFilePath(dataDir)
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(content, null, 2) + '\n')
  renameSync(tmp, file)
}

export function zoneNames(zones: number | string[]): string[] {
  if (Array.isArray(zones)) {
    if (zones.length === 0) throw new Error('zones: at least one zone')
    if (new Set(zones).size !== zones.length) throw new Error(`zones: duplicate names in ${zones.join(', ')}`)
    for (const z of zones) if (!/^[A-Za-z0-9._-]+$/.test(z)) throw new Error(`zones: bad zone name '${z}'`)
    return [...zones]
  }
  if (!Number.isInteger(zones) || zones < 1) throw new Error(`zones: a positive integer, got ${zones}`)
  return Array.from({ length: zones }, (_, i) => `az-${i + 1}`)
}

export function controllerCount(metadata: MetadataSpec): number {
  switch (metadata.mode) {
    case 'standalone':
      return 0
    case 'embedded':
      return 1
    case 'zookeeper':
      if (!metadata.connect) throw new Error('metadata: zookeeper mode needs a connect string')
      if (!Number.isInteger(metadata.controllers) || metadata.controllers < 1) {
        throw new Error(`metadata: zookeeper mode needs at least one controller, got ${metadata.controllers}`)
      }
      return metadata.controllers
    default:
      throw new Error(`metadata: unknown mode '${(metadata as { mode: unknown }).mode}'`)
  }
}

export function checkIds(what: string, ids: number[], count: number): void {
  if (ids.length !== count) throw new Error(`${what}: ${count} ids expected, got ${ids.length}`)
  for (const id of ids) if (!Number.isInteger(id) || id < 0) throw new Error(`${what}: bad id ${id}`)
  if (new Set(ids).size !== ids.length) throw new Error(`${what}: duplicate ids in ${ids.join(', ')}`)
}

export function checkPort(what: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what}: bad port ${port}`)
}
