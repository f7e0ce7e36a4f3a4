// Finding the records a request names; an unknown ARN is MSK's 404 NotFoundException.

import { notFound } from '../errors.js'
import type { ClusterRecord, ConfigurationRecord, OperationRecord } from '../model.js'
import type { ApiContext } from './context.js'

export function findCluster(ctx: ApiContext, arn: string, param = 'clusterArn'): ClusterRecord {
  return ctx.store.getCluster(arn) ?? notFoundThrow(`Cluster ${arn} does not exist`, param)
}

export function findOperation(ctx: ApiContext, arn: string): OperationRecord {
  return ctx.store.getOperation(arn) ?? notFoundThrow(`Cluster operation ${arn} does not exist`, 'clusterOperationArn')
}

export function findConfiguration(ctx: ApiContext, arn: string, param = 'arn'): ConfigurationRecord {
  return ctx.store.getConfiguration(arn) ?? notFoundThrow(`Configuration ${arn} does not exist`, param)
}

function notFoundThrow(message: string, param: string): never {
  throw notFound(message, param)
}
