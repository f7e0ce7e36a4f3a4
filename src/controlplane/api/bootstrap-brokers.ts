// GetBootstrapBrokers: `host:port,…` of the brokers the reconciler runs. Before any runs (a
// cluster still CREATING) the answer is a 409 ConflictException, the one "not now" error the model
// lists for this operation.

import { conflict } from '../errors.js'
import type { ApiContext, ApiRequest, ApiResponse } from './context.js'
import { findCluster } from './lookup.js'

export function getBootstrapBrokers(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const brokers = [...(cluster.runtime?.brokers ?? [])].sort((a, b) => a.id - b.id)
  if (brokers.length === 0) {
    throw conflict(`Cluster ${cluster.name} has no brokers running yet (state ${cluster.state}); retry when it is ACTIVE`, 'clusterArn')
  }
  return { body: { bootstrapBrokerString: brokers.map((b) => `${b.host}:${b.port}`).join(',') } }
}
