// ListClusterOperations(V2), DescribeClusterOperation(V2).

import type { ApiContext, ApiRequest, ApiResponse } from './context.js'
import { findCluster, findOperation } from './lookup.js'
import { clusterOperationInfo, clusterOperationV2, clusterOperationV2Summary } from './shapes.js'
import { page } from './validate.js'

export function listClusterOperations(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const { items, nextToken } = page(ctx.store.listOperations(cluster.arn), req.query)
  return { body: { clusterOperationInfoList: items.map(clusterOperationInfo), nextToken } }
}

export function listClusterOperationsV2(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const { items, nextToken } = page(ctx.store.listOperations(cluster.arn), req.query)
  return { body: { clusterOperationInfoList: items.map(clusterOperationV2Summary), nextToken } }
}

export function describeClusterOperation(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return { body: { clusterOperationInfo: clusterOperationInfo(findOperation(ctx, req.params.clusterOperationArn ?? '')) } }
}

export function describeClusterOperationV2(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return { body: { clusterOperationInfo: clusterOperationV2(findOperation(ctx, req.params.clusterOperationArn ?? '')) } }
}
