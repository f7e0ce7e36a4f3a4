// Helpers for the reconciler's and the control plane's tests: records shaped as the API writes
// them (api/clusters.ts, api/updates.ts), submitted the way the API submits them (one
// transaction: operation PENDING, cluster state, activeOperationArn, new currentVersion; then
// wake), and waits on the store.

import { randomUUID } from 'node:crypto'
import { clusterArn, operationArn } from './arn.js'
import type { ClusterRecord, ClusterSpec, ClusterState, ControlPlaneStore, OperationRecord, OperationRunner, OperationType } from './model.js'
import { newClusterVersion } from './reconciler.js'

export const REGION = 'us-east-1'
export const ACCOUNT = '000000000000'

export function specOf(brokers: number, kafkaVersion = '3.7.x.kraft', volumeGiB = 10): ClusterSpec {
  return {
    numberOfBrokerNodes: brokers,
    brokerNodeGroupInfo: {
      clientSubnets: ['subnet-1', 'subnet-2', 'subnet-3'],
      instanceType: 'kafka.m5.large',
      storageInfo: { ebsStorageInfo: { volumeSize: volumeGiB } },
    },
    kafkaVersion,
    enhancedMonitoring: 'DEFAULT',
    storageMode: 'LOCAL',
  }
}

export function submit(
  store: ControlPlaneStore,
  runner: OperationRunner,
  arn: string,
  type: OperationType,
  state: ClusterState,
  target: Partial<ClusterSpec> | null,
  params: Record<string, unknown> = {},
): OperationRecord {
  const c = store.getCluster(arn)!
  const op: OperationRecord = {
    arn: operationArn(arn, randomUUID()),
    clusterArn: arn,
    clusterType: c.type,
    type,
    state: 'PENDING',
    creationTime: new Date().toISOString(),
    endTime: null,
    errorInfo: null,
    sourceClusterInfo: target ? Object.fromEntries(Object.keys(target).map((k) => [k, (c.spec as unknown as Record<string, unknown>)[k]])) : null,
    targetClusterInfo: target,
    steps: [],
    params,
    clientRequestId: null,
  }
  store.transaction(() => {
    store.insertOperation(op)
    store.updateCluster(arn, (x) => {
      x.state = state
      x.activeOperationArn = op.arn
      x.currentVersion = newClusterVersion()
    })
  })
  runner.wake(arn)
  return op
}

/** Inserts a cluster (CREATING) and its CREATE operation, as CreateCluster does. */
export function createCluster(store: ControlPlaneStore, runner: OperationRunner, name: string, spec: ClusterSpec): { arn: string; op: OperationRecord } {
  const uuid = randomUUID()
  const record: ClusterRecord = {
    arn: clusterArn(REGION, ACCOUNT, name, uuid),
    name,
    uuid,
    type: 'PROVISIONED',
    region: REGION,
    account: ACCOUNT,
    creationTime: new Date().toISOString(),
    state: 'CREATING',
    stateInfo: null,
    currentVersion: newClusterVersion(),
    activeOperationArn: null,
    tags: {},
    spec,
    runtime: null,
  }
  store.insertCluster(record)
  const op = submit(store, runner, record.arn, 'CREATE', 'CREATING', spec)
  return { arn: record.arn, op }
}

/** Polls the operation until it is finished; returns it. */
export async function waitOperation(store: ControlPlaneStore, opArn: string, timeoutMs = 120_000): Promise<OperationRecord> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const op = store.getOperation(opArn)
    if (op && (op.state === 'UPDATE_COMPLETE' || op.state === 'UPDATE_FAILED')) return op
    if (Date.now() > deadline) throw new Error(`operation ${opArn} not finished within ${timeoutMs} ms: ${JSON.stringify(op?.steps)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Polls until the cluster is in `state` (or gone, for 'DELETED'). */
export async function waitState(store: ControlPlaneStore, arn: string, state: ClusterState | 'DELETED', timeoutMs = 120_000): Promise<ClusterRecord | undefined> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const c = store.getCluster(arn)
    if (state === 'DELETED' ? c === undefined : c?.state === state) return c
    if (Date.now() > deadline) throw new Error(`cluster not ${state} within ${timeoutMs} ms (${c?.state})`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
