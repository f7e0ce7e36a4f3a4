// CreateCluster, CreateClusterV2, DescribeCluster(V2), ListClusters(V2), DeleteCluster.

import { randomUUID } from 'node:crypto'
import { clusterArn } from '../arn.js'
import { badRequest, conflict } from '../errors.js'
import type { ClusterRecord, ClusterSpec, ClusterType } from '../model.js'
import type { ApiContext, ApiRequest, ApiResponse } from './context.js'
import { SERVERLESS_KAFKA_VERSION } from './kafka-versions.js'
import { findCluster } from './lookup.js'
import { newClusterVersion, newOperation, requireVersion, startOperation } from './operations.js'
import { clusterInfo, clusterV2 } from './shapes.js'
import {
  CLUSTER_NAME,
  DEFAULT_VOLUME_GIB,
  fail,
  optionalEnum,
  optionalObject,
  optionalStringList,
  optionalTags,
  page,
  provisionedSpec,
  requiredStringList,
  requiredString,
  type Json,
} from './validate.js'

/** Serverless clusters are sized by Fjord: 3 brokers over 3 zones, on one instance type. */
const SERVERLESS_BROKERS = 3
const SERVERLESS_INSTANCE_TYPE = 'kafka.m5.large'

function clustersOf(ctx: ApiContext, region: string): ClusterRecord[] {
  return ctx.store.listClusters().filter((c) => c.region === region && c.account === ctx.account)
}

/** Inserts the cluster (CREATING) with its CREATE operation in one transaction, then wakes the runner. */
function create(req: ApiRequest, ctx: ApiContext, name: string, type: ClusterType, spec: ClusterSpec, tags: Record<string, string>): ClusterRecord {
  if (clustersOf(ctx, req.region).some((c) => c.name === name)) {
    throw conflict(`A cluster named ${name} already exists in ${req.region}`, 'clusterName')
  }
  const uuid = randomUUID()
  const cluster: ClusterRecord = {
    arn: clusterArn(req.region, ctx.account, name, uuid),
    name,
    uuid,
    type,
    region: req.region,
    account: ctx.account,
    creationTime: ctx.now().toISOString(),
    state: 'CREATING',
    stateInfo: null,
    currentVersion: newClusterVersion(),
    activeOperationArn: null,
    tags,
    spec,
    runtime: null,
  }
  const op = newOperation(ctx, cluster, { type: 'CREATE', targetClusterInfo: spec })
  return startOperation(ctx, op, 'CREATING', () => ctx.store.insertCluster(cluster))
}

export function createCluster(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const name = requiredString(req.body, 'clusterName', CLUSTER_NAME)
  const spec = provisionedSpec(ctx, req.body, '')
  const cluster = create(req, ctx, name, 'PROVISIONED', spec, optionalTags(req.body, 'tags') ?? {})
  return { body: { clusterArn: cluster.arn, clusterName: cluster.name, state: cluster.state } }
}

/** A serverless request's spec: its vpcConfigs, and 3 brokers over 3 zones taken from vpcConfigs[0]'s subnets. */
function serverlessSpec(body: Json): ClusterSpec {
  const raw = body.vpcConfigs
  if (!Array.isArray(raw) || raw.length === 0) fail('serverless.vpcConfigs', 'is required and must not be empty')
  const vpcConfigs = raw.map((v: unknown, i) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`serverless.vpcConfigs[${i}]`, 'must be an object')
    const subnetIds = requiredStringList(v as Json, 'subnetIds', `serverless.vpcConfigs[${i}].subnetIds`)
    const securityGroupIds = optionalStringList(v as Json, 'securityGroupIds', `serverless.vpcConfigs[${i}].securityGroupIds`)
    return securityGroupIds === undefined ? { subnetIds } : { subnetIds, securityGroupIds }
  })
  const subnets = vpcConfigs[0]?.subnetIds ?? []
  const clientAuthentication = optionalObject(body, 'clientAuthentication', 'serverless.clientAuthentication')
  return {
    numberOfBrokerNodes: SERVERLESS_BROKERS,
    // Zone i is clientSubnets[i]; with fewer than 3 subnets they repeat, and there are still 3 zones.
    brokerNodeGroupInfo: {
      clientSubnets: Array.from({ length: SERVERLESS_BROKERS }, (_, i) => subnets[i % subnets.length] as string),
      instanceType: SERVERLESS_INSTANCE_TYPE,
      storageInfo: { ebsStorageInfo: { volumeSize: DEFAULT_VOLUME_GIB } },
    },
    kafkaVersion: SERVERLESS_KAFKA_VERSION,
    enhancedMonitoring: 'DEFAULT',
    storageMode: 'LOCAL',
    serverless: clientAuthentication === undefined ? { vpcConfigs } : { vpcConfigs, clientAuthentication },
  }
}

export function createClusterV2(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const name = requiredString(req.body, 'clusterName', CLUSTER_NAME)
  const tags = optionalTags(req.body, 'tags') ?? {}
  const provisioned = optionalObject(req.body, 'provisioned')
  const serverless = optionalObject(req.body, 'serverless')
  if ((provisioned === undefined) === (serverless === undefined)) {
    throw badRequest('Exactly one of provisioned and serverless is required', provisioned === undefined ? 'provisioned' : 'serverless')
  }
  const cluster =
    provisioned !== undefined
      ? create(req, ctx, name, 'PROVISIONED', provisionedSpec(ctx, provisioned, 'provisioned.'), tags)
      : create(req, ctx, name, 'SERVERLESS', serverlessSpec(serverless as Json), tags)
  return { body: { clusterArn: cluster.arn, clusterName: cluster.name, state: cluster.state, clusterType: cluster.type } }
}

export function describeCluster(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  if (cluster.type === 'SERVERLESS') {
    throw badRequest(`Cluster ${cluster.name} is serverless; describe it with DescribeClusterV2`, 'clusterArn')
  }
  return { body: { clusterInfo: clusterInfo(cluster) } }
}

export function describeClusterV2(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return { body: { clusterInfo: clusterV2(findCluster(ctx, req.params.clusterArn ?? '')) } }
}

function filtered(req: ApiRequest, ctx: ApiContext, type: ClusterType | undefined): ClusterRecord[] {
  const prefix = req.query.get('clusterNameFilter') ?? ''
  return clustersOf(ctx, req.region).filter((c) => c.name.startsWith(prefix) && (type === undefined || c.type === type))
}

export function listClusters(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const { items, nextToken } = page(filtered(req, ctx, 'PROVISIONED'), req.query)
  return { body: { clusterInfoList: items.map(clusterInfo), nextToken } }
}

export function listClustersV2(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const typeFilter = optionalEnum(Object.fromEntries(req.query), 'clusterTypeFilter', ['PROVISIONED', 'SERVERLESS'] as const)
  const { items, nextToken } = page(filtered(req, ctx, typeFilter), req.query)
  return { body: { clusterInfoList: items.map(clusterV2), nextToken } }
}

/** Allowed in every state but DELETING (MSK answers BadRequest then; its model lists no Conflict here). */
export function deleteCluster(req: ApiRequest, ctx: ApiContext): ApiResponse {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  if (cluster.state === 'DELETING') throw badRequest(`Cluster ${cluster.name} is already being deleted`, 'clusterArn')
  const currentVersion = req.query.get('currentVersion')
  if (currentVersion !== null) requireVersion(cluster, currentVersion)
  const op = newOperation(ctx, cluster, { type: 'DELETE', targetClusterInfo: null })
  const deleting = startOperation(ctx, op, 'DELETING')
  return { body: { clusterArn: deleting.arn, state: deleting.state } }
}
