// The reconciler: runs each cluster's operations, one at a time per cluster and oldest first, as
// named steps recorded in the OperationRecord (so that a control plane restarted mid-operation
// resumes at the step it was in: every step checks the actual state before acting), supervises
// the clusters' processes (a broker or ZooKeeper node that dies or hangs turns an ACTIVE cluster
// HEALING until it is back and every partition is in sync again), and scales storage when usage passes the
// cluster's target. Provisioning is in provisioner.ts, Kafka-side actions in cluster-admin.ts.
// See README.md (## Reconciler).

import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import path from 'node:path'
import type { ClusterLogger, LocalCluster } from '../cluster/local-cluster.js'
import { operationArn } from './arn.js'
import { Aborted, ClusterAdmin, balancePlan, brokersToRemove, drainPlan, type Move } from './cluster-admin.js'
import type {
  BrokerRuntime,
  ClusterRecord,
  ClusterSpec,
  ControlPlaneStore,
  OperationRecord,
  OperationRunner,
  OperationType,
} from './model.js'
import {
  GiB,
  Provisioner,
  brokerSettingsFor,
  isKraft,
  kafkaDirOf,
  subnetsOf,
  volumeBytesOf,
  zonesFor,
} from './provisioner.js'
import { ensembleOf, ensembleServes, isOurZooKeeper, startEnsemble, startZooKeeperNode, stopEnsemble, zookeeperUnavailable, type ZooKeeperNodeRuntime } from './zookeeper.js'

export interface ReconcilerLogger extends ClusterLogger {
  debug?(obj: object, msg?: string): void
}

export interface ReconcilerOptions {
  store: ControlPlaneStore
  provisioner: Provisioner
  logger?: ReconcilerLogger
  /** Storage usage check (and auto-scaling) period; default 5000 ms, 0 turns it off. */
  usageCheckIntervalMs?: number
  /** How often the ZooKeeper nodes are checked for life; default 1000 ms. */
  zookeeperCheckIntervalMs?: number
  /** Longest wait of one step (brokers up, replicas in sync, reassignments); default 10 min. */
  stepTimeoutMs?: number
  /**
   * The replication throttle of a reassignment (scale-out, scale-in): follower.replication.throttled.rate
   * and leader.replication.throttled.rate set live on every broker before replicas move, removed
   * once they moved or the move failed (bytes/s; default 50 MiB/s; null: no throttle).
   */
  reassignmentThrottleBytesPerSec?: number | null
  /**
   * Tests: awaited at named points of an operation, with the cluster's ARN: `step:<NAME>` before
   * a step runs, `reassign` once the throttle is set and before replicas move. A throw fails the
   * operation there, as a real failure would.
   */
  testHook?: (point: string, clusterArn: string) => Promise<void> | void
}

const silent: ReconcilerLogger = { info() {}, warn() {}, error() {} }
const VERSION_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
const THROTTLE_KEYS = ['follower.replication.throttled.rate', 'leader.replication.throttled.rate'] as const
const VOLUME_KEY = 'volume.size.bytes'
/** Restarts during one heal after which a process counts as crash-looping (stateInfo names it). */
const CRASH_LOOP_RESTARTS = 3

/** MSK's currentVersion look: 14 uppercase letters and digits. */
export function newClusterVersion(): string {
  const b = randomBytes(14)
  let s = ''
  for (let i = 0; i < 14; i++) s += VERSION_CHARS[b[i]! % VERSION_CHARS.length]
  return s
}

/** The spec after an operation: every member of the target replaces the spec's (the API's contract). */
export function applyTarget(spec: ClusterSpec, target: Partial<ClusterSpec> | null): ClusterSpec {
  const next = structuredClone(spec)
  if (target) Object.assign(next, structuredClone(target))
  return next
}

/** A failed scale-out being undone: the failure to report, the brokers to remove. */
interface Rollback {
  errorCode: string
  message: string
  /** scale-out: the added brokers are emptied and removed; scale-in: the replicas moved off the chosen brokers are spread back. */
  kind?: 'remove-added' | 'rebalance'
  removeBrokerIds: number[]
}

class OperationFailure extends Error {
  constructor(readonly errorCode: string, message: string) {
    super(message)
  }
}

interface Worker {
  running: Promise<void> | null
  again: boolean
}

export class Reconciler implements OperationRunner {
  readonly #store: ControlPlaneStore
  readonly #prov: Provisioner
  readonly #log: ReconcilerLogger
  readonly #usageEveryMs: number
  readonly #stepTimeoutMs: number
  readonly #throttle: number | null
  readonly #hook: ReconcilerOptions['testHook']
  readonly #workers = new Map<string, Worker>()
  readonly #admins = new Map<string, ClusterAdmin>()
  #closed = false
  #usageTimer: NodeJS.Timeout | null = null
  #usageRunning = false
  readonly #zkEveryMs: number
  #zkTimer: NodeJS.Timeout | null = null
  /** Back-off of each ZooKeeper node restarted, by `<cluster arn> <node id>`. */
  readonly #zkRestarts = new Map<string, { at: number; backoffMs: number }>()

  constructor(opts: ReconcilerOptions) {
    this.#store = opts.store
    this.#prov = opts.provisioner
    this.#log = opts.logger ?? silent
    this.#usageEveryMs = opts.usageCheckIntervalMs ?? 5_000
    this.#zkEveryMs = opts.zookeeperCheckIntervalMs ?? 1_000
    this.#stepTimeoutMs = opts.stepTimeoutMs ?? 600_000
    this.#throttle = opts.reassignmentThrottleBytesPerSec === undefined ? 50 * 2 ** 20 : opts.reassignmentThrottleBytesPerSec
    this.#hook = opts.testHook
  }

  // ---------------------------------------------------------------------------------------------
  // Life cycle

  /**
   * Adopts every provisioned cluster (its processes keep running; the dead ones are restarted by
   * their supervisor) and its ZooKeeper ensemble, then resumes the unfinished operations.
   */
  async start(): Promise<void> {
    for (const c of this.#store.listClusters()) {
      // Clusters created before ensembles ran one standalone ZooKeeper: the same node, recorded as an ensemble of one.
      if (c.runtime?.zookeeper && !Array.isArray(c.runtime.zookeeper.nodes)) {
        this.#store.updateCluster(c.arn, (x) => void (x.runtime!.zookeeper = ensembleOf(x.runtime!.zookeeper)))
      }
    }
    for (const c of this.#store.listClusters()) {
      if (!c.runtime) continue
      try {
        if (c.runtime.zookeeper && c.state !== 'DELETING') await this.#ensureZooKeeper(c)
        const lc = await this.#prov.adopt(c.arn, c.runtime)
        if (lc) this.#watch(c.arn, lc)
        this.#log.info({ cluster: c.name, adopted: lc !== null }, 'cluster adopted')
      } catch (err) {
        this.#log.error({ cluster: c.name, err: (err as Error).message }, 'cannot adopt cluster')
      }
    }
    for (const c of this.#store.listClusters()) {
      const lc = this.#prov.get(c.arn)
      if (lc && c.state === 'ACTIVE' && !c.activeOperationArn && lc.status().some((p) => p.state !== 'running')) this.#heal(c.arn, 'not running when the control plane started')
    }
    for (const op of this.#store.unfinishedOperations()) this.wake(op.clusterArn)
    if (this.#usageEveryMs > 0) {
      this.#usageTimer = setInterval(() => void this.#checkUsage(), this.#usageEveryMs)
      this.#usageTimer.unref()
    }
    if (this.#zkEveryMs > 0) {
      this.#zkTimer = setInterval(() => this.#checkZooKeepers(), this.#zkEveryMs)
      this.#zkTimer.unref()
    }
  }

  wake(clusterArn: string): void {
    if (this.#closed) return
    let w = this.#workers.get(clusterArn)
    if (!w) this.#workers.set(clusterArn, (w = { running: null, again: false }))
    w.again = true
    if (w.running) return
    const worker = w
    worker.running = (async () => {
      while (worker.again && !this.#closed) {
        worker.again = false
        try {
          await this.#drive(clusterArn)
        } catch (err) {
          if (!(err instanceof Aborted)) this.#log.error({ clusterArn, err: (err as Error).stack }, 'reconciler loop failed')
        }
      }
      worker.running = null
    })()
  }

  /** Resolves when no operation of `clusterArn` is running (tests). */
  async idle(clusterArn: string): Promise<void> {
    for (;;) {
      const w = this.#workers.get(clusterArn)
      if (!w?.running) return
      await w.running
    }
  }

  /**
   * Stops running operations at their next wait (they stay in progress, resumed by the next
   * start) and lets go of the clusters: detached, still running (stopClusters false), or stopped.
   */
  async close(opts: { stopClusters: boolean }): Promise<void> {
    this.#closed = true
    if (this.#usageTimer) clearInterval(this.#usageTimer)
    if (this.#zkTimer) clearInterval(this.#zkTimer)
    await Promise.all([...this.#workers.values()].map((w) => w.running))
    await Promise.all([...this.#admins.values()].map((a) => a.close()))
    this.#admins.clear()
    const zookeepers = opts.stopClusters ? this.#store.listClusters().flatMap((c) => (c.runtime?.zookeeper ? [c.runtime.zookeeper] : [])) : []
    await this.#prov.closeAll(opts.stopClusters)
    // ZooKeeper after the brokers and controllers, which need it to stop cleanly.
    for (const zk of zookeepers) await stopEnsemble(zk)
  }

  // ---------------------------------------------------------------------------------------------
  // Running operations

  async #drive(arn: string): Promise<void> {
    while (!this.#closed) {
      const op = this.#store.unfinishedOperations().find((o) => o.clusterArn === arn)
      if (!op) return
      await this.#run(op)
    }
  }

  async #run(op: OperationRecord): Promise<void> {
    const started = Date.now()
    const cluster = this.#store.getCluster(op.clusterArn)
    if (!cluster) {
      this.#finishOp(op.arn, new OperationFailure('NotFound', 'the cluster no longer exists'))
      return
    }
    if (op.state === 'PENDING') this.#store.updateOperation(op.arn, (o) => void (o.state = 'UPDATE_IN_PROGRESS'))
    this.#log.info({ cluster: cluster.name, operation: op.type, arn: op.arn }, 'operation started')
    try {
      await this.#perform(op)
    } catch (err) {
      if (err instanceof Aborted) throw err
      let failure = err instanceof OperationFailure ? err : new OperationFailure('InternalServerError', (err as Error).message)
      this.#log.warn({ cluster: cluster.name, operation: op.type, err: (err as Error).message }, 'operation failed')
      if (op.type === 'UPDATE_BROKER_COUNT') failure = await this.#rollbackBrokerCount(op, failure)
      await this.#failed(op, failure)
      return
    }
    this.#log.info({ cluster: cluster.name, operation: op.type, ms: Date.now() - started }, 'operation complete')
  }

  async #perform(op: OperationRecord): Promise<void> {
    switch (op.type) {
      case 'CREATE':
        await this.#create(op)
        return this.#complete(op)
      case 'DELETE':
        return this.#delete(op)
      case 'UPDATE_BROKER_COUNT': {
        // A rollback in progress when the control plane stopped: fail again, which resumes it.
        const rollback = this.#store.getOperation(op.arn)!.params.rollback as Rollback | undefined
        if (rollback) throw new OperationFailure(rollback.errorCode, rollback.message)
        await this.#brokerCount(op)
        return this.#complete(op)
      }
      case 'UPDATE_BROKER_STORAGE':
      case 'UPDATE_STORAGE':
      case 'AUTO_SCALE_STORAGE':
        await this.#storage(op)
        return this.#complete(op)
      case 'UPDATE_CLUSTER_CONFIGURATION':
      case 'UPDATE_CLUSTER_KAFKA_VERSION':
      case 'REBOOT_NODE':
        await this.#rolling(op)
        return this.#complete(op)
      case 'HEAL':
        await this.#healOp(op)
        return this.#complete(op)
      case 'UPDATE_MONITORING':
      case 'UPDATE_SECURITY':
      case 'UPDATE_CONNECTIVITY':
      case 'UPDATE_BROKER_TYPE':
      case 'UPDATE_REBALANCING':
        // Stored and reported; nothing runs for them yet (no TLS/SASL listeners, no exporters,
        // one process size for every instance type).
        await this.#step(op, 'UPDATE_CLUSTER_METADATA', async () => {})
        return this.#complete(op)
      default:
        throw new OperationFailure('BadRequest', `unknown operation type ${String(op.type)}`)
    }
  }

  /** Runs a named step unless it completed before (a resumed operation); records its status. */
  async #step(op: OperationRecord, name: string, fn: () => Promise<void>): Promise<void> {
    const current = this.#store.getOperation(op.arn)
    if (current?.steps.some((s) => s.stepName === name && s.stepStatus === 'COMPLETE')) return
    if (this.#closed) throw new Aborted()
    const set = (status: 'IN_PROGRESS' | 'COMPLETE' | 'FAILED') =>
      this.#store.updateOperation(op.arn, (o) => {
        const s = o.steps.find((x) => x.stepName === name)
        if (s) s.stepStatus = status
        else o.steps.push({ stepName: name, stepStatus: status })
      })
    set('IN_PROGRESS')
    const t0 = Date.now()
    try {
      await this.#hook?.(`step:${name}`, op.clusterArn)
      await fn()
    } catch (err) {
      if (!(err instanceof Aborted)) set('FAILED')
      throw err
    }
    set('COMPLETE')
    this.#log.info({ operation: op.type, step: name, ms: Date.now() - t0 }, 'step complete')
  }

  #deadline(): number {
    return Date.now() + this.#stepTimeoutMs
  }

  #cluster(arn: string): ClusterRecord {
    const c = this.#store.getCluster(arn)
    if (!c) throw new OperationFailure('NotFound', 'the cluster no longer exists')
    return c
  }

  #lc(arn: string): LocalCluster {
    const lc = this.#prov.get(arn)
    if (!lc) throw new Error('the cluster has no processes provisioned')
    return lc
  }

  #admin(arn: string): ClusterAdmin {
    let a = this.#admins.get(arn)
    if (!a) {
      a = new ClusterAdmin(() => this.#lc(arn).bootstrap, { aborted: () => this.#closed })
      this.#admins.set(arn, a)
    }
    return a
  }

  #stateInfoOf(c: ClusterRecord): ClusterRecord['stateInfo'] {
    return c.runtime?.notice ? { code: 'ZOOKEEPER_UNAVAILABLE', message: c.runtime.notice } : null
  }

  #complete(op: OperationRecord): void {
    const fresh = this.#store.getOperation(op.arn)!
    this.#store.transaction(() => {
      this.#store.updateOperation(op.arn, (o) => {
        o.state = 'UPDATE_COMPLETE'
        o.endTime = new Date().toISOString()
      })
      this.#store.updateCluster(op.clusterArn, (c) => {
        if (op.type !== 'HEAL') {
          c.spec = applyTarget(c.spec, fresh.targetClusterInfo)
          c.currentVersion = newClusterVersion()
        }
        c.state = 'ACTIVE'
        c.stateInfo = this.#stateInfoOf(c)
        if (c.activeOperationArn === op.arn || op.type !== 'HEAL') c.activeOperationArn = null
      })
    })
  }

  #finishOp(arn: string, failure: OperationFailure): void {
    this.#store.updateOperation(arn, (o) => {
      o.state = 'UPDATE_FAILED'
      o.endTime = new Date().toISOString()
      o.errorInfo = { errorCode: failure.errorCode, errorString: failure.message }
    })
  }

  async #failed(op: OperationRecord, failure: OperationFailure): Promise<void> {
    if (op.type === 'CREATE') {
      // Nothing half-created stays: processes stopped, directory removed, ports released.
      const c = this.#store.getCluster(op.clusterArn)
      await this.#teardown(op.clusterArn, c?.runtime ?? null).catch((err: unknown) =>
        this.#log.error({ err: (err as Error).message }, 'cleanup after a failed create'))
      this.#store.transaction(() => {
        this.#finishOp(op.arn, failure)
        if (c) {
          this.#store.updateCluster(op.clusterArn, (x) => {
            x.state = 'FAILED'
            x.stateInfo = { code: failure.errorCode, message: failure.message }
            x.activeOperationArn = null
            x.runtime = null
          })
        }
      })
      return
    }
    this.#store.transaction(() => {
      this.#finishOp(op.arn, failure)
      if (op.type === 'DELETE') {
        if (this.#store.getCluster(op.clusterArn)) {
          this.#store.updateCluster(op.clusterArn, (c) => {
            c.state = 'FAILED'
            c.stateInfo = { code: failure.errorCode, message: failure.message }
            c.activeOperationArn = null
          })
        }
        return
      }
      // As MSK: a failed update leaves the cluster ACTIVE as it was, the operation UPDATE_FAILED.
      if (this.#store.getCluster(op.clusterArn)) {
        this.#store.updateCluster(op.clusterArn, (c) => {
          c.state = 'ACTIVE'
          c.stateInfo = this.#stateInfoOf(c)
          c.activeOperationArn = null
          if (op.type !== 'HEAL') c.currentVersion = newClusterVersion()
        })
      }
    })
  }

  async #teardown(arn: string, runtime: ClusterRecord['runtime']): Promise<void> {
    const a = this.#admins.get(arn)
    this.#admins.delete(arn)
    await a?.close()
    await this.#prov.stop(arn, runtime)
    // The stored runtime has the pids of nodes restarted since `runtime` was read.
    if (runtime?.zookeeper) await stopEnsemble(this.#store.getCluster(arn)?.runtime?.zookeeper ?? runtime.zookeeper)
    this.#prov.removeDir(runtime)
  }

  // ---------------------------------------------------------------------------------------------
  // CREATE

  #settings(c: ClusterRecord, spec: ClusterSpec, brokerCount: number): Record<string, string> {
    const cfg = spec.configurationInfo ? this.#store.getConfiguration(spec.configurationInfo.arn) : undefined
    if (spec.configurationInfo && !cfg) throw new OperationFailure('BadRequest', `configuration ${spec.configurationInfo.arn} does not exist`)
    try {
      return brokerSettingsFor(spec, brokerCount, cfg)
    } catch (err) {
      throw new OperationFailure('BadRequest', (err as Error).message)
    }
  }

  #zones(c: ClusterRecord): { zone: string; subnet: string }[] {
    return zonesFor(c.region, subnetsOf(c.spec))
  }

  async #create(op: OperationRecord): Promise<void> {
    const arn = op.clusterArn
    await this.#step(op, 'PROVISION_RUNTIME', async () => {
      const c = this.#cluster(arn)
      if (c.runtime) return
      let zookeeper = !isKraft(c.spec.kafkaVersion)
      let notice: string | null = null
      if (zookeeper) {
        const why = zookeeperUnavailable()
        if (why) {
          zookeeper = false
          notice = `Kafka ${c.spec.kafkaVersion} runs with ZooKeeper, but ${why}: the cluster uses the embedded controller instead`
          this.#log.warn({ cluster: c.name }, notice)
        }
      }
      const { runtime, controllerPorts } = await this.#prov.planRuntime(c, this.#store.listClusters(), zookeeper)
      runtime.notice = notice
      // Runtime first, processes after: a crash from here on can be cleaned up or resumed.
      this.#store.transaction(() => {
        this.#store.updateCluster(arn, (x) => {
          x.runtime = runtime
          if (notice) x.stateInfo = { code: 'ZOOKEEPER_UNAVAILABLE', message: notice }
        })
        this.#store.updateOperation(op.arn, (o) => void (o.params = { ...o.params, controllerPorts }))
      })
    })
    const c0 = this.#cluster(arn)
    if (c0.runtime!.zookeeper) await this.#step(op, 'START_ZOOKEEPER', () => this.#ensureZooKeeper(c0))
    await this.#step(op, 'PROVISION_BROKERS', async () => {
      const c = this.#cluster(arn)
      const rt = c.runtime!
      const controllerPorts = (this.#store.getOperation(op.arn)!.params.controllerPorts as number[] | undefined) ?? []
      const settings = this.#settings(c, c.spec, rt.brokers.length)
      const lc = await this.#prov.open(arn, rt, c.name, settings, controllerPorts, this.#zones(c).map((z) => z.zone))
      this.#watch(arn, lc)
      await lc.start()
    })
    await this.#step(op, 'WAIT_FOR_BROKERS', async () => {
      const lc = this.#lc(arn)
      if (lc.status().some((p) => p.state === 'stopped')) await lc.start()
      await this.#admin(arn).waitBrokers(lc.brokerIds, this.#deadline())
    })
  }

  async #ensureZooKeeper(c: ClusterRecord): Promise<void> {
    const pids = await startEnsemble(c.runtime!.zookeeper!, this.#prov.host)
    this.#store.updateCluster(c.arn, (x) => x.runtime!.zookeeper!.nodes.forEach((n, i) => (n.pid = pids[i]!)))
  }

  /**
   * The ZooKeeper nodes are the control plane's own processes (no LocalCluster supervises them):
   * a node found dead is started again, with a back-off (1 s doubling to 30 s, forgotten once it
   * has run for a minute), and an ACTIVE cluster heals until the whole ensemble serves again. The
   * remaining nodes keep a quorum meanwhile, so the controllers keep their sessions.
   */
  #checkZooKeepers(): void {
    if (this.#closed) return
    const now = Date.now()
    for (const c of this.#store.listClusters()) {
      const zk = c.runtime?.zookeeper
      if (!zk || c.state === 'CREATING' || c.state === 'DELETING' || c.state === 'FAILED') continue
      for (const node of zk.nodes) {
        const key = `${c.arn} ${node.id}`
        const last = this.#zkRestarts.get(key)
        if (isOurZooKeeper(node.pid, node.dir)) {
          if (last && now - last.at > 60_000) this.#zkRestarts.delete(key)
          continue
        }
        if (last && now - last.at < last.backoffMs) continue
        this.#restartZooKeeperNode(c, node, last ? Math.min(last.backoffMs * 2, 30_000) : 1_000)
      }
    }
  }

  #restartZooKeeperNode(c: ClusterRecord, node: ZooKeeperNodeRuntime, backoffMs: number): void {
    this.#zkRestarts.set(`${c.arn} ${node.id}`, { at: Date.now(), backoffMs })
    const why = `ZooKeeper node ${node.id} exited (pid ${node.pid ?? 'none'})`
    try {
      const pid = startZooKeeperNode(c.runtime!.zookeeper!, this.#prov.host, node)
      this.#store.updateCluster(c.arn, (x) => void (x.runtime!.zookeeper!.nodes.find((n) => n.id === node.id)!.pid = pid))
      this.#log.warn({ cluster: c.name, node: node.id, pid }, `${why}: restarted`)
    } catch (err) {
      this.#log.error({ cluster: c.name, node: node.id, err: (err as Error).message }, `${why}: cannot restart it`)
    }
    this.#heal(c.arn, why)
  }

  // ---------------------------------------------------------------------------------------------
  // DELETE

  async #delete(op: OperationRecord): Promise<void> {
    const arn = op.clusterArn
    await this.#step(op, 'STOP_BROKERS', async () => {
      const c = this.#store.getCluster(arn)
      await this.#teardown(arn, c?.runtime ?? null)
    })
    this.#store.transaction(() => {
      this.#store.updateOperation(op.arn, (o) => {
        o.steps.push({ stepName: 'DELETE_CLUSTER_RECORD', stepStatus: 'COMPLETE' })
        o.state = 'UPDATE_COMPLETE'
        o.endTime = new Date().toISOString()
      })
      if (this.#store.getCluster(arn)) this.#store.deleteCluster(arn)
    })
    this.#workers.delete(arn)
  }

  // ---------------------------------------------------------------------------------------------
  // UPDATE_BROKER_COUNT

  async #brokerCount(op: OperationRecord): Promise<void> {
    const arn = op.clusterArn
    const target = op.targetClusterInfo?.numberOfBrokerNodes
    if (!Number.isInteger(target) || target! < 1) throw new OperationFailure('BadRequest', 'numberOfBrokerNodes missing from the operation')
    const now = this.#cluster(arn).runtime!.brokers.length
    const planned = this.#store.getOperation(op.arn)!.params.removeBrokerIds as number[] | undefined
    // target === now is a scale-out too: brokers a failed scale-out left running (its rollback
    // failed as well) are in the runtime already, and what remains is to balance onto them.
    if (planned === undefined && target! >= now) await this.#scaleOut(op, target!)
    else await this.#scaleIn(op, target!)
  }

  /** After a failed UPDATE_BROKER_COUNT: undoes what it did (see the two rollbacks); returns the failure to record. */
  async #rollbackBrokerCount(op: OperationRecord, failure: OperationFailure): Promise<OperationFailure> {
    const fresh = this.#store.getOperation(op.arn)
    const rb = fresh?.params.rollback as Rollback | undefined
    const scaleIn = rb ? rb.kind === 'rebalance' : fresh?.params.removeBrokerIds !== undefined
    return scaleIn ? this.#rollbackScaleIn(op, failure) : this.#rollbackScaleOut(op, failure)
  }

  /**
   * After a failed scale-in whose brokers all still run: the moves under way finish, then every
   * partition is balanced over all the brokers again (the ones chosen for removal included) and
   * preferred leaders are elected, as steps ROLLBACK_* (resumed after a restart), so the cluster
   * keeps its old count with its replicas spread as before. Once a broker was removed the
   * operation fails as it is: an UpdateBrokerCount to the target finishes it.
   */
  async #rollbackScaleIn(op: OperationRecord, failure: OperationFailure): Promise<OperationFailure> {
    const arn = op.clusterArn
    const c = this.#store.getCluster(arn)
    const fresh = this.#store.getOperation(op.arn)
    if (!c?.runtime || !fresh || !this.#prov.get(arn)) return failure
    const chosen = (fresh.params.removeBrokerIds as number[] | undefined) ?? []
    const running = c.runtime.brokers.map((b) => b.id)
    const gone = chosen.filter((id) => !running.includes(id))
    if (gone.length > 0) {
      return new OperationFailure(failure.errorCode,
        `${failure.message}; brokers ${gone.join(', ')} were already removed: UpdateBrokerCount to ${op.targetClusterInfo?.numberOfBrokerNodes} finishes the scale-in`)
    }
    // Nothing moved yet (a plan refused, brokers not chosen): nothing to undo.
    if (!fresh.steps.some((s) => s.stepName === 'REASSIGN_PARTITIONS')) return failure
    let rb = fresh.params.rollback as Rollback | undefined
    if (!rb) {
      rb = { errorCode: failure.errorCode, message: failure.message, kind: 'rebalance', removeBrokerIds: [] }
      const record = rb
      this.#store.updateOperation(op.arn, (o) => void (o.params = { ...o.params, rollback: record }))
    }
    this.#log.warn({ cluster: c.name, brokers: chosen }, 'rolling back the scale-in')
    let moved = 0
    try {
      await this.#step(op, 'ROLLBACK_REASSIGN_PARTITIONS', async () => {
        const admin = this.#admin(arn)
        const pending = await admin.listReassignments(this.#deadline())
        if (pending.length > 0) await this.#reassign(arn, pending)
        const view = await admin.view()
        const back = balancePlan(view.partitions, view.brokers)
        await this.#reassign(arn, back)
        moved = pending.length + back.length
      })
      await this.#step(op, 'ROLLBACK_ELECT_PREFERRED_LEADERS', () => this.#admin(arn).electPreferredLeaders(this.#deadline()))
    } catch (err) {
      if (err instanceof Aborted) throw err
      this.#log.error({ cluster: c.name, err: (err as Error).message }, 'rollback of the scale-in failed')
      return new OperationFailure(rb.errorCode,
        `${rb.message}; rolling back failed too (${(err as Error).message}): every broker keeps running, some replicas stay moved off brokers ${chosen.join(', ')}`)
    }
    // A plan refused before any move (e.g. too few brokers left for a replication factor) left nothing to undo.
    if (moved === 0) return new OperationFailure(rb.errorCode, rb.message)
    return new OperationFailure(rb.errorCode, `${rb.message}; rolled back: replicas balanced over brokers ${running.join(', ')} again`)
  }

  /**
   * After a failed UPDATE_BROKER_COUNT that added brokers (the runtime holds more brokers than the
   * spec): moves every replica off them, elects preferred leaders and removes them, as steps
   * ROLLBACK_* recorded in the operation (resumed after a restart), so that spec, runtime and
   * processes agree again. When the rollback fails too, the brokers stay (runtime and processes
   * agree; the spec keeps the old count) and an UpdateBrokerCount to the target does the rest.
   * Returns the failure to record.
   */
  async #rollbackScaleOut(op: OperationRecord, failure: OperationFailure): Promise<OperationFailure> {
    const c = this.#store.getCluster(op.clusterArn)
    const fresh = this.#store.getOperation(op.arn)
    if (!c?.runtime || !fresh || !this.#prov.get(op.clusterArn)) return failure
    let rb = fresh.params.rollback as Rollback | undefined
    if (!rb) {
      const extra = c.runtime.brokers.slice(c.spec.numberOfBrokerNodes).map((b) => b.id)
      if (extra.length === 0 || fresh.params.removeBrokerIds !== undefined) return failure
      rb = { errorCode: failure.errorCode, message: failure.message, kind: 'remove-added', removeBrokerIds: extra }
      const record = rb
      this.#store.updateOperation(op.arn, (o) => void (o.params = { ...o.params, rollback: record }))
    }
    this.#log.warn({ cluster: c.name, brokers: rb.removeBrokerIds }, 'rolling back the scale-out')
    try {
      await this.#scaleIn(op, c.spec.numberOfBrokerNodes, { remove: rb.removeBrokerIds, prefix: 'ROLLBACK_', spec: c.spec })
    } catch (err) {
      if (err instanceof Aborted) throw err
      const left = this.#cluster(op.clusterArn).runtime!.brokers.slice(c.spec.numberOfBrokerNodes).map((b) => b.id)
      this.#log.error({ cluster: c.name, err: (err as Error).message }, 'rollback of the scale-out failed')
      return new OperationFailure(rb.errorCode,
        `${rb.message}; rolling back failed too (${(err as Error).message}): brokers ${left.join(', ')} keep running; UpdateBrokerCount to ${op.targetClusterInfo?.numberOfBrokerNodes} completes the scale-out`)
    }
    return new OperationFailure(rb.errorCode, `${rb.message}; rolled back: brokers ${rb.removeBrokerIds.join(', ')} removed`)
  }

  async #scaleOut(op: OperationRecord, target: number): Promise<void> {
    const arn = op.clusterArn
    await this.#step(op, 'PROVISION_BROKERS', async () => {
      const c = this.#cluster(arn)
      const lc = this.#lc(arn)
      const zones = this.#zones(c)
      const spec = applyTarget(c.spec, op.targetClusterInfo)
      lc.setBrokerSettings(this.#settings(c, spec, target))
      // Runtime first: ids, zones (the emptiest zone each time), ports.
      const rt = c.runtime!
      const brokers = [...rt.brokers]
      const missing = target - brokers.length
      if (missing > 0) {
        let next = Math.max(0, ...brokers.map((b) => b.id), ...lc.brokerIds, ...usedBrokerDirs(lc)) + 1
        const ports = await this.#prov.brokerPorts(Array.from({ length: missing }, (_, i) => next + i), this.#store.listClusters())
        for (let i = 0; i < missing; i++) {
          const count = new Map(zones.map((z) => [z.zone, 0]))
          for (const b of brokers) count.set(b.zone, (count.get(b.zone) ?? 0) + 1)
          const z = zones.find((x) => count.get(x.zone) === Math.min(...count.values()))!
          const id = next++
          brokers.push({
            id, zone: z.zone, clientSubnet: z.subnet, host: this.#prov.host, port: ports[i]!,
            dataDir: path.join(kafkaDirOf(rt.dataDir), `broker-${id}`), volumeSizeBytes: volumeBytesOf(spec, id),
            usedBytes: null, usedAt: null, addedTime: new Date().toISOString(),
          })
        }
        this.#store.updateCluster(arn, (x) => void (x.runtime!.brokers = brokers))
      }
      const fresh = brokers.filter((b) => !lc.brokerIds.includes(b.id))
      await Promise.all(fresh.map((b) => lc.addBroker({ id: b.id, zone: b.zone, port: b.port })))
      // Brokers added before a restart of the control plane may still be down.
      await Promise.all(brokers.filter((b) => lc.process(b.id).state === 'stopped').map((b) => lc.restart(b.id)))
    })
    await this.#step(op, 'WAIT_FOR_BROKERS', () => this.#admin(arn).waitBrokers(this.#lc(arn).brokerIds, this.#deadline()))
    await this.#step(op, 'REASSIGN_PARTITIONS', async () => {
      const admin = this.#admin(arn)
      const view = await admin.view()
      const pending = await admin.listReassignments(this.#deadline())
      const moves = pending.length > 0 ? pending : balancePlan(view.partitions, view.brokers)
      await this.#reassign(arn, moves)
    })
    await this.#step(op, 'ELECT_PREFERRED_LEADERS', () => this.#admin(arn).electPreferredLeaders(this.#deadline()))
  }

  /** A scale-in to `target` brokers; `rollback` removes given brokers under ROLLBACK_* steps, for `spec` (the cluster's own). */
  async #scaleIn(op: OperationRecord, target: number, rollback?: { remove: number[]; prefix: string; spec: ClusterSpec }): Promise<void> {
    const arn = op.clusterArn
    const P = rollback?.prefix ?? ''
    if (!rollback) await this.#step(op, 'CHOOSE_BROKERS', async () => {
      const c = this.#cluster(arn)
      const remove = brokersToRemove(c.runtime!.brokers, target)
      const zones = new Set(c.runtime!.brokers.filter((b) => !remove.includes(b.id)).map((b) => b.zone))
      if (zones.size < Math.min(this.#zones(c).length, target)) throw new OperationFailure('BadRequest', `removing brokers ${remove.join(', ')} would leave a zone without brokers`)
      this.#store.updateOperation(op.arn, (o) => void (o.params = { ...o.params, removeBrokerIds: remove }))
    })
    const remove = rollback?.remove ?? (this.#store.getOperation(op.arn)!.params.removeBrokerIds as number[])
    await this.#step(op, `${P}REASSIGN_PARTITIONS`, async () => {
      const admin = this.#admin(arn)
      const view = await admin.view()
      const pending = await admin.listReassignments(this.#deadline())
      // A rollback first lets the failed operation's moves finish, then drains what they placed.
      if (rollback && pending.length > 0) await this.#reassign(arn, pending)
      let moves: Move[]
      try {
        moves = pending.length > 0 && !rollback ? pending : drainPlan(rollback ? (await admin.view()).partitions : view.partitions, view.brokers, remove)
      } catch (err) {
        throw new OperationFailure('BadRequest', `cannot remove brokers ${remove.join(', ')}: ${(err as Error).message}`)
      }
      await this.#reassign(arn, moves)
    })
    await this.#step(op, `${P}WAIT_FOR_EMPTY_BROKERS`, async () => {
      const admin = this.#admin(arn)
      const deadline = this.#deadline()
      for (;;) {
        const v = await admin.view(deadline)
        const held = v.partitions.filter((p) => p.replicas.some((r) => remove.includes(r)))
        if (held.length > 0) {
          // A topic created meanwhile: drain it too.
          await this.#reassign(arn, drainPlan(held, v.brokers, remove))
          continue
        }
        let left = 0
        for (const id of remove) if (v.brokers.some((b) => b.id === id)) left += (await admin.logDirUsage(id, deadline)).partitions
        if (left === 0) return
        if (Date.now() > deadline) throw new Error(`brokers ${remove.join(', ')} still hold ${left} partition replicas`)
        await admin.pause(200)
      }
    })
    await this.#step(op, `${P}ELECT_PREFERRED_LEADERS`, () => this.#admin(arn).electPreferredLeaders(this.#deadline()))
    await this.#step(op, `${P}REMOVE_BROKERS`, async () => {
      const c = this.#cluster(arn)
      const lc = this.#lc(arn)
      lc.setBrokerSettings(this.#settings(c, rollback?.spec ?? applyTarget(c.spec, op.targetClusterInfo), target))
      for (const id of remove) {
        if (lc.brokerIds.includes(id)) await lc.removeBroker(id, { deleteData: true })
        // One at a time: the runtime lists exactly the brokers that run, whatever fails next.
        this.#store.updateCluster(arn, (x) => void (x.runtime!.brokers = x.runtime!.brokers.filter((b) => b.id !== id)))
      }
    })
    await this.#step(op, `${P}WAIT_FOR_BROKERS`, () => this.#admin(arn).waitBrokers(this.#lc(arn).brokerIds, this.#deadline()))
  }

  /**
   * Sets the replication throttle on every broker (follower and leader rates, live), starts the
   * moves, waits for them, and removes the throttle again, whether the moves completed or failed.
   * The rates are dynamic broker configs, kept in the cluster metadata: a broker restarted
   * meanwhile comes back with them.
   */
  async #reassign(arn: string, moves: Move[]): Promise<void> {
    if (moves.length === 0) return
    const admin = this.#admin(arn)
    const deadline = this.#deadline()
    const view = await admin.view(deadline)
    const throttled: number[] = []
    const unthrottle = async () => {
      const off = Object.fromEntries(THROTTLE_KEYS.map((k) => [k, null]))
      for (const id of throttled) {
        await admin.alterBrokerConfig(id, off, Date.now() + 30_000)
          .catch((err: unknown) => { if (!(err instanceof Aborted)) this.#log.warn({ broker: id, err: (err as Error).message }, 'cannot remove the replication throttle') })
      }
      if (throttled.length > 0) this.#log.info({ brokers: throttled }, 'replication throttle removed')
    }
    try {
      if (this.#throttle !== null && this.#throttle > 0) {
        const on = Object.fromEntries(THROTTLE_KEYS.map((k) => [k, String(this.#throttle)]))
        for (const b of view.brokers) {
          await admin.alterBrokerConfig(b.id, on, deadline)
          throttled.push(b.id)
        }
        this.#log.info({ brokers: throttled, bytesPerSec: this.#throttle }, 'replication throttle set')
      }
      await this.#hook?.('reassign', arn)
      await admin.reassign(moves, deadline)
      await admin.waitReassignments(moves, deadline)
    } finally {
      await unthrottle()
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Storage

  async #storage(op: OperationRecord): Promise<void> {
    const arn = op.clusterArn
    const c0 = this.#cluster(arn)
    const spec = applyTarget(c0.spec, op.targetClusterInfo)
    const want = new Map(c0.runtime!.brokers.map((b) => [b.id, volumeBytesOf(spec, b.id)]))
    await this.#step(op, 'CHECK_STORAGE_USAGE', async () => {
      const admin = this.#admin(arn)
      const c = this.#cluster(arn)
      for (const b of c.runtime!.brokers) {
        const bytes = want.get(b.id)!
        if (bytes >= b.volumeSizeBytes) continue
        const { usedBytes } = await admin.logDirUsage(b.id, this.#deadline())
        if (usedBytes > bytes) {
          throw new OperationFailure('BadRequest',
            `cannot shrink the volume of broker ${b.id} to ${(bytes / GiB).toFixed(2)} GiB: its logs hold ${usedBytes} bytes (${(usedBytes / GiB).toFixed(2)} GiB); delete data or choose a larger size`)
        }
      }
    })
    await this.#step(op, 'UPDATE_BROKER_STORAGE', async () => {
      const c = this.#cluster(arn)
      const lc = this.#lc(arn)
      lc.setBrokerSettings(this.#settings(c, spec, c.runtime!.brokers.length))
      const admin = this.#admin(arn)
      for (const b of c.runtime!.brokers) {
        const bytes = want.get(b.id)!
        // A dynamic broker config: kept in the cluster metadata, so a restarted broker keeps its own size.
        await admin.alterBrokerConfig(b.id, { [VOLUME_KEY]: String(bytes) }, this.#deadline())
        this.#store.updateCluster(arn, (x) => {
          const rb = x.runtime!.brokers.find((y) => y.id === b.id)
          if (rb) rb.volumeSizeBytes = bytes
        })
      }
      if (op.type === 'AUTO_SCALE_STORAGE') this.#store.updateCluster(arn, (x) => void (x.runtime!.lastAutoScaleAt = new Date().toISOString()))
    })
  }

  /** Measures every broker's usage; starts an AUTO_SCALE_STORAGE operation where usage passed the target. */
  async #checkUsage(): Promise<void> {
    if (this.#usageRunning || this.#closed) return
    this.#usageRunning = true
    try {
      for (const c of this.#store.listClusters()) {
        if (this.#closed) return
        if (c.state !== 'ACTIVE' || !c.runtime || !this.#prov.get(c.arn)) continue
        const admin = this.#admin(c.arn)
        const used = new Map<number, number>()
        for (const b of c.runtime.brokers) {
          try {
            used.set(b.id, (await admin.logDirUsage(b.id, Date.now() + 2_000)).usedBytes)
          } catch {
            /* a broker down: healing deals with it */
          }
        }
        if (used.size === 0) continue
        const at = new Date().toISOString()
        const fresh = this.#store.updateCluster(c.arn, (x) => {
          for (const b of x.runtime?.brokers ?? []) {
            if (used.has(b.id)) {
              b.usedBytes = used.get(b.id)!
              b.usedAt = at
            }
          }
        })
        this.#maybeAutoScale(fresh)
      }
    } catch (err) {
      if (!(err instanceof Aborted)) this.#log.warn({ err: (err as Error).message }, 'storage usage check failed')
    } finally {
      this.#usageRunning = false
    }
  }

  #maybeAutoScale(c: ClusterRecord): void {
    const as = c.spec.storageAutoScaling
    const rt = c.runtime
    if (!as || !rt || c.state !== 'ACTIVE' || c.activeOperationArn) return
    const last = rt.lastAutoScaleAt ? Date.parse(rt.lastAutoScaleAt) : 0
    if (Date.now() - last < as.cooldownSeconds * 1000) return
    const over = rt.brokers.filter((b) => b.usedBytes !== null && b.usedBytes > (b.volumeSizeBytes * as.targetUtilization) / 100)
    if (over.length === 0) return
    const current = c.spec.brokerNodeGroupInfo.storageInfo?.ebsStorageInfo?.volumeSize ?? Math.max(...rt.brokers.map((b) => b.volumeSizeBytes)) / GiB
    const next = Math.min(as.maxVolumeSizeGiB, Math.ceil(current + Math.max(10, current * 0.1)))
    if (next <= current) return
    const group = structuredClone(c.spec.brokerNodeGroupInfo)
    group.storageInfo = { ...group.storageInfo, ebsStorageInfo: { ...group.storageInfo?.ebsStorageInfo, volumeSize: next } }
    const target: Partial<ClusterSpec> = { brokerNodeGroupInfo: group, brokerVolumeSizeGiB: {} }
    const source: Partial<ClusterSpec> = { brokerNodeGroupInfo: c.spec.brokerNodeGroupInfo, brokerVolumeSizeGiB: c.spec.brokerVolumeSizeGiB ?? {} }
    const op = this.#newOperation(c, 'AUTO_SCALE_STORAGE', source, target)
    this.#store.transaction(() => {
      this.#store.insertOperation(op)
      this.#store.updateCluster(c.arn, (x) => {
        x.state = 'UPDATING'
        x.activeOperationArn = op.arn
        x.currentVersion = newClusterVersion()
      })
    })
    this.#log.info({ cluster: c.name, brokers: over.map((b) => b.id), fromGiB: current, toGiB: next }, 'storage auto-scaling')
    this.wake(c.arn)
  }

  #newOperation(c: ClusterRecord, type: OperationType, source: Partial<ClusterSpec> | null, target: Partial<ClusterSpec> | null): OperationRecord {
    return {
      arn: operationArn(c.arn, randomUUID()),
      clusterArn: c.arn,
      clusterType: c.type,
      type,
      state: 'PENDING',
      creationTime: new Date().toISOString(),
      endTime: null,
      errorInfo: null,
      sourceClusterInfo: source,
      targetClusterInfo: target,
      steps: [],
      params: {},
      clientRequestId: null,
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Rolling restarts: configuration, version, reboot

  async #rolling(op: OperationRecord): Promise<void> {
    const arn = op.clusterArn
    const c0 = this.#cluster(arn)
    const spec = applyTarget(c0.spec, op.targetClusterInfo)
    if (op.type === 'UPDATE_CLUSTER_KAFKA_VERSION' && isKraft(spec.kafkaVersion) !== isKraft(c0.spec.kafkaVersion)) {
      throw new OperationFailure('BadRequest', `cannot move from ${c0.spec.kafkaVersion} to ${spec.kafkaVersion}: a cluster keeps its metadata mode (KRaft or ZooKeeper)`)
    }
    if (op.type !== 'REBOOT_NODE') {
      await this.#step(op, 'UPDATE_BROKER_SETTINGS', async () => {
        this.#lc(arn).setBrokerSettings(this.#settings(c0, spec, c0.runtime!.brokers.length))
      })
    }
    const ids = op.type === 'REBOOT_NODE'
      ? ((op.params.brokerIds as number[] | undefined) ?? []).map(Number)
      : c0.runtime!.brokers.map((b) => b.id)
    const admin = this.#admin(arn)
    for (const id of ids) {
      await this.#step(op, `RESTART_BROKER_${id}`, async () => {
        const lc = this.#lc(arn)
        if (!lc.brokerIds.includes(id)) throw new OperationFailure('BadRequest', `no broker ${id} in the cluster`)
        await admin.waitInSync(this.#deadline())
        await lc.restart(id)
        await admin.waitBrokers(lc.brokerIds, this.#deadline())
      })
      await this.#step(op, `WAIT_FOR_IN_SYNC_REPLICAS_${id}`, () => admin.waitInSync(this.#deadline()))
    }
    await this.#step(op, 'ELECT_PREFERRED_LEADERS', () => admin.electPreferredLeaders(this.#deadline()))
  }

  // ---------------------------------------------------------------------------------------------
  // Self-healing

  #watch(arn: string, lc: LocalCluster): void {
    lc.removeAllListeners()
    lc.on('exit', (e) => {
      if (!e.expected) this.#heal(arn, `${e.role} ${e.id} exited (code ${e.code ?? 'unknown'}, signal ${e.signal ?? 'none'})`)
    })
    lc.on('unhealthy', (e) => this.#heal(arn, `${e.role} ${e.id} failed ${e.failures} health checks`))
    lc.on('restart', (e) => this.#heal(arn, `${e.role} ${e.id} is being restarted`))
    lc.on('ready', (e) => {
      // Started again outside any operation (a replaced volume, a restart by hand): the cluster
      // heals until the broker is back in every ISR.
      this.#heal(arn, `${e.role} ${e.id} started again outside an operation`)
      this.wake(arn)
    })
  }

  /** An ACTIVE cluster with a process down becomes HEALING, with a HEAL operation that waits for it. */
  #heal(arn: string, why: string): void {
    if (this.#closed) return
    const c = this.#store.getCluster(arn)
    if (!c || c.state !== 'ACTIVE' || c.activeOperationArn) return
    if (this.#store.unfinishedOperations().some((o) => o.clusterArn === arn)) return
    const op = this.#newOperation(c, 'HEAL', null, null)
    op.params = { reason: why }
    this.#store.transaction(() => {
      this.#store.insertOperation(op)
      this.#store.updateCluster(arn, (x) => {
        x.state = 'HEALING'
        x.activeOperationArn = op.arn
        x.stateInfo = { code: 'HEALING', message: why }
      })
    })
    this.#log.warn({ cluster: c.name, reason: why }, 'cluster healing')
    this.wake(arn)
  }

  /** A process restarted CRASH_LOOP_RESTARTS times or more during this heal: named in the cluster's stateInfo. */
  #reportCrashLoop(arn: string, lc: LocalCluster, restartsBefore: ReadonlyMap<string, number>): void {
    const looping = lc.status().filter((p) => p.state !== 'running' && p.restarts - (restartsBefore.get(`${p.role} ${p.id}`) ?? 0) >= CRASH_LOOP_RESTARTS)
    if (looping.length === 0) return
    const message = looping.map((p) => {
      const exit = p.lastExit ? `last exit ${p.lastExit.signal ? `signal ${p.lastExit.signal}` : `code ${p.lastExit.code ?? 'unknown'}`} at ${p.lastExit.at}` : 'no exit recorded'
      return `${p.role} ${p.id} keeps exiting (${p.restarts - (restartsBefore.get(`${p.role} ${p.id}`) ?? 0)} restarts while healing, ${exit}); see ${p.logFile}`
    }).join('; ')
    const c = this.#store.getCluster(arn)
    if (c?.state === 'HEALING' && c.stateInfo?.message !== message) {
      this.#store.updateCluster(arn, (x) => void (x.stateInfo = { code: 'HEALING', message }))
      this.#log.warn({ cluster: c.name }, message)
    }
  }

  async #healOp(op: OperationRecord): Promise<void> {
    const arn = op.clusterArn
    const admin = this.#admin(arn)
    await this.#step(op, 'WAIT_FOR_PROCESSES', async () => {
      const lc = this.#lc(arn)
      const restartsBefore = new Map(lc.status().map((p) => [`${p.role} ${p.id}`, p.restarts]))
      // The supervisor restarts the process (with back-off); wait as long as it takes, and say in
      // stateInfo which process keeps exiting and where its log is, as an operator would look.
      while (lc.status().some((p) => p.state !== 'running')) {
        if (lc.status().some((p) => p.state === 'stopped')) await lc.start()
        this.#reportCrashLoop(arn, lc, restartsBefore)
        await admin.pause(100)
      }
      // A restarted ZooKeeper node serves once it has rejoined the quorum (#checkZooKeepers restarts it).
      for (;;) {
        const zk = this.#cluster(arn).runtime?.zookeeper
        if (!zk || (await ensembleServes(zk, this.#prov.host))) break
        await admin.pause(100)
      }
    })
    await this.#step(op, 'WAIT_FOR_BROKERS', () => admin.waitBrokers(this.#lc(arn).brokerIds, Date.now() + 24 * 3600_000))
    await this.#step(op, 'WAIT_FOR_IN_SYNC_REPLICAS', () => admin.waitInSync(Date.now() + 24 * 3600_000))
    await this.#step(op, 'ELECT_PREFERRED_LEADERS', () => admin.electPreferredLeaders(this.#deadline()))
  }
}

function usedBrokerDirs(lc: LocalCluster): number[] {
  const ids: number[] = []
  for (let id = 1; id <= 1000; id++) if (existsSync(path.join(lc.dataDir, `broker-${id}`))) ids.push(id)
  return ids
}
