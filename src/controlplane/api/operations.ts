// Accepting an operation: the one way the API asks the reconciler for work. In ONE store
// transaction it inserts the OperationRecord (PENDING, no steps) and sets the cluster's state,
// activeOperationArn and a new currentVersion; then it wakes the runner. The spec itself changes
// when the reconciler completes the operation (see updates.ts for what each one asks).

import { randomInt, randomUUID } from 'node:crypto'
import { operationArn } from '../arn.js'
import { badRequest, conflict } from '../errors.js'
import type { ClusterRecord, ClusterSpec, ClusterState, OperationRecord, OperationType } from '../model.js'
import type { ApiContext, ApiRequest, ApiResponse } from './context.js'
import { findCluster } from './lookup.js'
import { requiredString } from './validate.js'

const VERSION_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

/** A cluster's opaque version: 14 uppercase letters and digits, like MSK's. */
export function newClusterVersion(): string {
  let v = ''
  for (let i = 0; i < 14; i++) v += VERSION_ALPHABET[randomInt(VERSION_ALPHABET.length)]
  return v
}

export interface OperationAsk {
  type: OperationType
  targetClusterInfo: Partial<ClusterSpec> | null
  sourceClusterInfo?: Partial<ClusterSpec> | null
  params?: Record<string, unknown>
}

export function newOperation(ctx: ApiContext, cluster: ClusterRecord, ask: OperationAsk): OperationRecord {
  return {
    arn: operationArn(cluster.arn, randomUUID()),
    clusterArn: cluster.arn,
    clusterType: cluster.type,
    type: ask.type,
    state: 'PENDING',
    creationTime: ctx.now().toISOString(),
    endTime: null,
    errorInfo: null,
    sourceClusterInfo: ask.sourceClusterInfo ?? null,
    targetClusterInfo: ask.targetClusterInfo,
    steps: [],
    params: ask.params ?? {},
    clientRequestId: null,
  }
}

/**
 * Inserts `op` and moves its cluster to `state` under a new version, atomically (with `first`, a
 * write that must go with them, such as the cluster's insert); after the commit wakes the runner.
 */
export function startOperation(ctx: ApiContext, op: OperationRecord, state: ClusterState, first?: () => void): ClusterRecord {
  const cluster = ctx.store.transaction(() => {
    first?.()
    ctx.store.insertOperation(op)
    return ctx.store.updateCluster(op.clusterArn, (c) => {
      c.state = state
      c.activeOperationArn = op.arn
      c.currentVersion = newClusterVersion()
    })
  })
  ctx.runner.wake(op.clusterArn)
  return cluster
}

/** The spec members `target` changes, as they are now: an operation's sourceClusterInfo. */
function sourceOf(spec: ClusterSpec, target: Partial<ClusterSpec> | null): Partial<ClusterSpec> | null {
  if (target === null) return null
  const source: Record<string, unknown> = {}
  for (const key of Object.keys(target)) source[key] = (spec as unknown as Record<string, unknown>)[key]
  return source as Partial<ClusterSpec>
}

export function requireActive(cluster: ClusterRecord): void {
  if (cluster.state !== 'ACTIVE') {
    throw conflict(`Cluster ${cluster.name} is in state ${cluster.state}; this operation needs it ACTIVE`, 'clusterArn')
  }
}

export function requireVersion(cluster: ClusterRecord, currentVersion: string): void {
  if (currentVersion !== cluster.currentVersion) {
    throw conflict(
      `currentVersion ${currentVersion} is not the cluster's current version ${cluster.currentVersion}; describe the cluster and retry`,
      'currentVersion',
    )
  }
}

export interface UpdateOptions {
  type: OperationType
  /** The cluster state while it runs (UPDATING unless said). */
  state?: ClusterState
  /** RebootBroker carries no currentVersion. */
  versioned?: boolean
}

/**
 * The common path of every Update* call: the cluster exists (404) and is provisioned (400), the
 * body's currentVersion is present (400), the cluster is ACTIVE (409) and at that version (409);
 * `ask` validates the rest (400) and says what to do. Answers {clusterArn, clusterOperationArn}.
 */
export function acceptUpdate(
  req: ApiRequest,
  ctx: ApiContext,
  options: UpdateOptions,
  ask: (cluster: ClusterRecord) => Omit<OperationAsk, 'type' | 'sourceClusterInfo'>,
): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  if (cluster.type !== 'PROVISIONED') {
    throw badRequest(`Cluster ${cluster.name} is serverless; ${options.type} applies to provisioned clusters only`, 'clusterArn')
  }
  const currentVersion = options.versioned === false ? undefined : requiredString(req.body, 'currentVersion')
  requireActive(cluster)
  if (currentVersion !== undefined) requireVersion(cluster, currentVersion)
  const asked = ask(cluster)
  const op = newOperation(ctx, cluster, {
    ...asked,
    type: options.type,
    sourceClusterInfo: sourceOf(cluster.spec, asked.targetClusterInfo),
  })
  startOperation(ctx, op, options.state ?? 'UPDATING')
  return { body: { clusterArn: cluster.arn, clusterOperationArn: op.arn } }
}
