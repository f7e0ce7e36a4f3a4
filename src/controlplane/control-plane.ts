// The control plane as one object: the store (<dataDir>/controlplane.db), the reconciler with its
// provisioner (clusters under <dataDir>/clusters/), and the MSK-compatible HTTP API. Opening it
// on an existing data dir adopts every cluster's running processes and resumes unfinished
// operations; closing it either detaches (the clusters keep serving, as when MSK's control plane
// is down) or stops every cluster. One control plane at a time runs on a data dir: open takes
// <dataDir>/controlplane.lock (a pid file; a dead holder's lock is taken over) and refuses,
// naming the other pid, while another live process holds it. The API reaches clusters' Kafka
// (the topics API) through ClusterAdmins over the provisioner's LocalClusters.

import { mkdirSync } from 'node:fs'
import path from 'node:path'
import type { ClusterOptions } from '../cluster/local-cluster.js'
import { acquirePidLock, type PidLock } from '../cluster/pids.js'
import { ClusterAdmins } from './cluster-admins.js'
import { startApiServer, type ApiServer } from './http/server.js'
import type { ControlPlaneStore } from './model.js'
import { Provisioner } from './provisioner.js'
import { Reconciler, type ReconcilerLogger, type ReconcilerOptions } from './reconciler.js'
import { openStore } from './store.js'

/** The data dir's lock: `{pid, since}` of the control plane running on it. */
export const LOCK_FILE = 'controlplane.lock'

export interface ControlPlaneOptions {
  dataDir: string
  /** The API's address; port 0 picks a free one. Brokers listen on the same host. */
  host: string
  port: number
  account?: string
  region?: string
  logger?: ReconcilerLogger
  /** Reconciler tuning (usage check period, step timeout, reassignment throttle). */
  reconciler?: Pick<ReconcilerOptions, 'usageCheckIntervalMs' | 'stepTimeoutMs' | 'reassignmentThrottleBytesPerSec'>
  /** Passed to every cluster's LocalCluster (back-off, health checks). */
  clusterOptions?: Omit<ClusterOptions, 'logger'>
  /**
   * Broker N of a cluster created or scaled out gets port brokerPortBase + N - 1 when it is free
   * (`fjord start`: 9092, MSK's plaintext port), a free port otherwise; 0 or absent: free ports.
   */
  brokerPortBase?: number
}

export class ControlPlane {
  private constructor(
    readonly dataDir: string,
    readonly store: ControlPlaneStore,
    readonly reconciler: Reconciler,
    readonly provisioner: Provisioner,
    private readonly server: ApiServer,
    private readonly lock: PidLock,
    private readonly admins: ClusterAdmins,
  ) {}

  /** http://host:port of the MSK API. */
  get url(): string {
    return this.server.url
  }

  get port(): number {
    return this.server.port
  }

  static async open(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const dataDir = path.resolve(opts.dataDir)
    mkdirSync(dataDir, { recursive: true })
    const lock = acquirePidLock(path.join(dataDir, LOCK_FILE), `the control plane's data dir ${dataDir}`)
    let store: ControlPlaneStore
    try {
      store = openStore(path.join(dataDir, 'controlplane.db'))
    } catch (err) {
      lock.release()
      throw err
    }
    const provisioner = new Provisioner({
      root: dataDir,
      host: opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host,
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.clusterOptions ? { clusterOptions: opts.clusterOptions } : {}),
      ...(opts.brokerPortBase ? { brokerPortBase: opts.brokerPortBase } : {}),
    })
    const reconciler = new Reconciler({ store, provisioner, ...(opts.logger ? { logger: opts.logger } : {}), ...opts.reconciler })
    const admins = new ClusterAdmins(provisioner)
    let server: ApiServer
    try {
      await reconciler.start()
      server = await startApiServer({
        store,
        runner: reconciler,
        host: opts.host,
        port: opts.port,
        kafkaAdmin: (cluster) => admins.get(cluster.arn),
        ...(opts.account ? { account: opts.account } : {}),
        ...(opts.region ? { defaultRegion: opts.region } : {}),
        ...(opts.logger ? { logger: opts.logger } : {}),
      })
    } catch (err) {
      await reconciler.close({ stopClusters: false }).catch(() => {})
      store.close()
      lock.release()
      throw err
    }
    return new ControlPlane(dataDir, store, reconciler, provisioner, server, lock, admins)
  }

  /**
   * Stops the API and the reconciler (an operation in progress stays in progress, to be resumed
   * by the next open). stopClusters false: the clusters keep running, detached; true: every
   * cluster (and its ZooKeeper) is stopped.
   */
  async close(opts: { stopClusters: boolean } = { stopClusters: false }): Promise<void> {
    await this.server.close()
    await this.admins.close()
    await this.reconciler.close(opts)
    this.store.close()
    this.lock.release()
  }
}
