// ListNodes: one NodeInfo a broker the reconciler runs (none before the cluster is provisioned).

import type { ApiContext, ApiRequest, ApiResponse } from './context.js'
import { findCluster } from './lookup.js'
import { nodeInfo } from './shapes.js'
import { page } from './validate.js'

export function listNodes(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const brokers = [...(cluster.runtime?.brokers ?? [])].sort((a, b) => a.id - b.id)
  const { items, nextToken } = page(brokers, req.query)
  return { body: { nodeInfoList: items.map((b) => nodeInfo(cluster, b)), nextToken } }
}
