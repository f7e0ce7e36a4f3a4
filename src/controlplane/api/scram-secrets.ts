// BatchAssociateScramSecret, BatchDisassociateScramSecret, ListScramSecrets. The associations are
// stored only (enforcing them on the brokers is a later security issue). As in MSK, the cluster
// must have SASL/SCRAM enabled, and a secret must be a Secrets Manager ARN whose name starts with
// AmazonMSK_; others come back in unprocessedScramSecrets.

import { badRequest } from '../errors.js'
import type { ClusterRecord } from '../model.js'
import type { ApiContext, ApiRequest, ApiResponse } from './context.js'
import { findCluster } from './lookup.js'
import { page, requiredStringList } from './validate.js'

const SECRET_ARN = /^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)$/

interface Unprocessed {
  secretArn: string
  errorCode: string
  errorMessage: string
}

function secretProblem(arn: string): Unprocessed | undefined {
  const m = SECRET_ARN.exec(arn)
  if (m === null) return { secretArn: arn, errorCode: 'InvalidSecretArn', errorMessage: 'Not a Secrets Manager secret ARN' }
  if (!(m[1] ?? '').startsWith('AmazonMSK_')) {
    return { secretArn: arn, errorCode: 'InvalidSecretName', errorMessage: 'The secret name must start with AmazonMSK_' }
  }
  return undefined
}

function scramCluster(req: ApiRequest, ctx: ApiContext): ClusterRecord {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const sasl = (cluster.spec.clientAuthentication?.sasl ?? {}) as { scram?: { enabled?: boolean } }
  if (sasl.scram?.enabled !== true) {
    throw badRequest(`Cluster ${cluster.name} does not have SASL/SCRAM client authentication enabled`, 'clusterArn')
  }
  return cluster
}

export function batchAssociateScramSecret(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = scramCluster(req, ctx)
  const secrets = requiredStringList(req.body, 'secretArnList')
  const unprocessed: Unprocessed[] = []
  const accepted: string[] = []
  for (const arn of secrets) {
    const problem = secretProblem(arn)
    if (problem === undefined) accepted.push(arn)
    else unprocessed.push(problem)
  }
  ctx.store.addScramSecrets(cluster.arn, accepted)
  return { body: { clusterArn: cluster.arn, unprocessedScramSecrets: unprocessed } }
}

export function batchDisassociateScramSecret(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const secrets = requiredStringList(req.body, 'secretArnList')
  const associated = new Set(ctx.store.listScramSecrets(cluster.arn))
  const unprocessed: Unprocessed[] = []
  const removed: string[] = []
  for (const arn of secrets) {
    if (associated.has(arn)) removed.push(arn)
    else unprocessed.push({ secretArn: arn, errorCode: 'SecretNotAssociated', errorMessage: 'The secret is not associated with the cluster' })
  }
  ctx.store.removeScramSecrets(cluster.arn, removed)
  return { body: { clusterArn: cluster.arn, unprocessedScramSecrets: unprocessed } }
}

export function listScramSecrets(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const { items, nextToken } = page(ctx.store.listScramSecrets(cluster.arn), req.query)
  return { body: { secretArnList: items, nextToken } }
}
