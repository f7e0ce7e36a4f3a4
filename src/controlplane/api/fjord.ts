// Fjord's extensions, under /fjord/v1 (MSK has no such operations):
//   PUT /fjord/v1/clusters/{clusterArn}/storage-autoscaling  {targetUtilization, maxVolumeSizeGiB, cooldownSeconds?}
//       sets spec.storageAutoScaling at once (no operation, no new currentVersion); a
//       targetUtilization of 0 or none turns it off. MSK does this through Application Auto Scaling.
//   GET same path → {clusterArn, storageAutoScaling: {...} | null}
//   GET /fjord/v1/clusters/{clusterArn}/usage → {clusterArn, brokers: [{brokerId, volumeSizeBytes, usedBytes, usedAt}]}

import type { ClusterRecord } from '../model.js'
import type { ApiContext, ApiRequest, ApiResponse } from './context.js'
import { findCluster } from './lookup.js'
import { DEFAULT_VOLUME_GIB, fail, MAX_VOLUME_GIB, optionalInteger, requiredInteger } from './validate.js'

/** MSK's auto-scaling step cooldown: at most one step every 6 hours. */
const DEFAULT_COOLDOWN_SECONDS = 6 * 3600

function autoScalingBody(cluster: ClusterRecord): ApiResponse {
  return { body: { clusterArn: cluster.arn, storageAutoScaling: cluster.spec.storageAutoScaling ?? null } }
}

export function getStorageAutoScaling(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return autoScalingBody(findCluster(ctx, req.params.clusterArn ?? ''))
}

export function putStorageAutoScaling(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const target = optionalInteger(req.body, 'targetUtilization', 0, 80) ?? 0
  if (target === 0) {
    return autoScalingBody(ctx.store.updateCluster(cluster.arn, (c) => delete c.spec.storageAutoScaling))
  }
  if (target < 10) fail('targetUtilization', `must be between 10 and 80, or 0 to turn auto-scaling off (got ${target})`)
  const current = cluster.spec.brokerNodeGroupInfo.storageInfo?.ebsStorageInfo?.volumeSize ?? DEFAULT_VOLUME_GIB
  const maxVolumeSizeGiB = requiredInteger(req.body, 'maxVolumeSizeGiB', 1, MAX_VOLUME_GIB)
  if (maxVolumeSizeGiB <= current) fail('maxVolumeSizeGiB', `must be larger than the current volume size (${current} GiB)`)
  const cooldownSeconds = optionalInteger(req.body, 'cooldownSeconds', 0, 7 * 24 * 3600) ?? DEFAULT_COOLDOWN_SECONDS
  const updated = ctx.store.updateCluster(cluster.arn, (c) => {
    c.spec.storageAutoScaling = { targetUtilization: target, maxVolumeSizeGiB, cooldownSeconds }
  })
  return autoScalingBody(updated)
}

export function getUsage(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const brokers = [...(cluster.runtime?.brokers ?? [])]
    .sort((a, b) => a.id - b.id)
    .map((b) => ({ brokerId: b.id, volumeSizeBytes: b.volumeSizeBytes, usedBytes: b.usedBytes, usedAt: b.usedAt }))
  return { body: { clusterArn: cluster.arn, brokers } }
}
