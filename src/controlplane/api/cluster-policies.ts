// Cluster policies (MSK's resource-based policy of a cluster):
//   PUT    /v1/clusters/{clusterArn}/policy  {policy, currentVersion?} → {currentVersion}
//   GET    /v1/clusters/{clusterArn}/policy  → {currentVersion, policy}; none: 404 NotFoundException
//   DELETE /v1/clusters/{clusterArn}/policy  → {} (also when there was none)
// The policy must be a JSON object (an IAM policy document); it is stored as sent and answered,
// NOT enforced: Fjord checks no IAM yet. currentVersion is optimistic concurrency: a Put that
// carries one must carry the stored policy's (a stale one, or one when there is no policy, is 400
// BadRequestException naming currentVersion: PutClusterPolicy's model lists no ConflictException);
// a Put without one replaces whatever is there.

import { badRequest, notFound } from '../errors.js'
import type { ApiContext, ApiRequest, ApiResponse } from './context.js'
import { findCluster } from './lookup.js'
import { newClusterVersion } from './operations.js'
import { fail, isObject, optionalString, requiredString } from './validate.js'

/** IAM's limit for a resource-based policy document. */
export const MAX_POLICY_CHARS = 20_480

export function getClusterPolicy(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const p = ctx.store.getClusterPolicy(cluster.arn)
  if (p === undefined) throw notFound(`Cluster ${cluster.arn} has no cluster policy`, 'clusterArn')
  return { body: { currentVersion: p.currentVersion, policy: p.policy } }
}

export function putClusterPolicy(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const policy = requiredString(req.body, 'policy', { max: MAX_POLICY_CHARS })
  let doc: unknown
  try {
    doc = JSON.parse(policy)
  } catch (err) {
    fail('policy', `is not valid JSON: ${(err as Error).message}`)
  }
  if (!isObject(doc)) fail('policy', 'must be a JSON object (a policy document)')
  const expected = optionalString(req.body, 'currentVersion', { min: 1, max: 64 })
  const currentVersion = ctx.store.transaction(() => {
    const stored = ctx.store.getClusterPolicy(cluster.arn)
    if (expected !== undefined && stored?.currentVersion !== expected) {
      throw badRequest(
        stored === undefined
          ? `currentVersion ${expected} does not match: cluster ${cluster.arn} has no cluster policy`
          : `currentVersion ${expected} is not the cluster policy's current version (${stored.currentVersion})`,
        'currentVersion',
      )
    }
    const version = newClusterVersion()
    ctx.store.putClusterPolicy({ clusterArn: cluster.arn, policy, currentVersion: version, updatedTime: ctx.now().toISOString() })
    return version
  })
  return { body: { currentVersion } }
}

export function deleteClusterPolicy(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  ctx.store.deleteClusterPolicy(cluster.arn)
  return { body: {} }
}
