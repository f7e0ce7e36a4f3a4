// The MSK topics API, acting on the cluster's real Kafka topics through Kafka's own admin API
// (cluster-admin.ts), as an operator tool would:
//   GET    /v1/clusters/{clusterArn}/topics?maxResults&nextToken&topicNameFilter   Metadata
//   POST   /v1/clusters/{clusterArn}/topics {topicName, partitionCount, replicationFactor, configs?}  CreateTopics
//   GET    /v1/clusters/{clusterArn}/topics/{topicName}                            Metadata, DescribeConfigs, ListPartitionReassignments
//   PUT    /v1/clusters/{clusterArn}/topics/{topicName} {configs?, partitionCount?} IncrementalAlterConfigs, CreatePartitions
//   DELETE /v1/clusters/{clusterArn}/topics/{topicName}                            DeleteTopics
//   GET    /v1/clusters/{clusterArn}/topics/{topicName}/partitions?maxResults&nextToken  Metadata
//
// `configs` is base64 both ways. Fjord answers base64 of a JSON object of every config of the
// topic with a value (defaults included, sensitive ones left out), name → string value. It reads
// base64 of a JSON object (values strings, numbers or booleans; in UpdateTopic null puts a config
// back to its default) or of properties text (`name=value` lines, `#` comments). UpdateTopic sets
// only the configs it names (IncrementalAlterConfigs); partitionCount may only grow.
//
// Statuses: Kafka's CreateTopics, CreatePartitions and DeleteTopics return once the controller
// took them, before every broker has caught up, so Create/Update/Delete answer CREATING /
// UPDATING / DELETING as MSK does; DescribeTopic answers UPDATING while one of the topic's
// partitions is being reassigned, ACTIVE otherwise. Internal topics (__consumer_offsets,
// __transaction_state) are listed and described like the others; deleting one is refused (400).
//
// Errors: unknown cluster or topic 404 NotFoundException; bad members 400 BadRequestException with
// invalidParameter; a cluster that is CREATING, DELETING or FAILED (no brokers to ask) 400; an
// existing topic 409 TopicExistsException; brokers that cannot be reached 409
// ClusterConnectivityException; other Kafka errors as the model names them (KafkaTimeoutException,
// NotControllerException, ReassignmentInProgressException, … KafkaRequestException), the Kafka
// error's name in the message.

import { ClientError } from '../../cli/kafka-client.js'
import { validateTopicName } from '../../controller/topic-names.js'
import { KafkaError } from '../../protocol/errors.js'
import { topicArn } from '../arn.js'
import { Aborted, type ClusterAdmin, type TopicView } from '../cluster-admin.js'
import { ApiError, badRequest, notFound, type ApiErrorName } from '../errors.js'
import type { ClusterRecord } from '../model.js'
import type { ApiContext, ApiRequest, ApiResponse } from './context.js'
import { findCluster } from './lookup.js'
import { fail, optionalInteger, optionalString, page, pageRequest, requiredInteger, requiredString } from './validate.js'

/** How long a topic operation waits on the cluster's Kafka (the server's own deadline is longer). */
export const KAFKA_DEADLINE_MS = 20_000
/** Fjord's cap on partitionCount (MSK documents none below Kafka's own limits). */
export const MAX_PARTITIONS = 10_000
/** Kafka's replication factor is an int16. */
const MAX_REPLICATION_FACTOR = 32_767

type Status = 'CREATING' | 'UPDATING' | 'DELETING' | 'ACTIVE'

// ---- reaching the cluster ----------------------------------------------------------------------

/** The admin of a cluster whose brokers can be asked; 400 while it has none (CREATING, DELETING, FAILED). */
function adminOf(ctx: ApiContext, cluster: ClusterRecord): ClusterAdmin {
  if (cluster.state === 'CREATING' || cluster.state === 'DELETING' || cluster.state === 'FAILED') {
    throw badRequest(`Cluster ${cluster.arn} is ${cluster.state}: its topics can be managed once it is ACTIVE`, 'clusterArn')
  }
  if (ctx.kafkaAdmin === undefined) {
    throw badRequest(`This API server does not reach the clusters' brokers, so cluster ${cluster.arn} has no topics to manage here`, 'clusterArn')
  }
  const admin = ctx.kafkaAdmin(cluster)
  if (admin === undefined) throw new ApiError('ClusterConnectivityException', `Cluster ${cluster.arn} has no brokers running`, 'clusterArn')
  return admin
}

/** The model's exception for a Kafka error code, and the member at fault when there is one. */
const KAFKA_ERRORS: Record<string, [ApiErrorName, string?]> = {
  TOPIC_ALREADY_EXISTS: ['TopicExistsException', 'topicName'],
  UNKNOWN_TOPIC_OR_PARTITION: ['UnknownTopicOrPartitionException', 'topicName'],
  UNKNOWN_TOPIC_ID: ['UnknownTopicOrPartitionException', 'topicName'],
  INVALID_TOPIC_EXCEPTION: ['BadRequestException', 'topicName'],
  INVALID_PARTITIONS: ['BadRequestException', 'partitionCount'],
  INVALID_REPLICATION_FACTOR: ['BadRequestException', 'replicationFactor'],
  INVALID_REPLICA_ASSIGNMENT: ['BadRequestException', 'replicationFactor'],
  INVALID_CONFIG: ['BadRequestException', 'configs'],
  POLICY_VIOLATION: ['BadRequestException'],
  REQUEST_TIMED_OUT: ['KafkaTimeoutException'],
  NOT_CONTROLLER: ['NotControllerException'],
  REASSIGNMENT_IN_PROGRESS: ['ReassignmentInProgressException'],
  GROUP_SUBSCRIBED_TO_TOPIC: ['GroupSubscribedToTopicException'],
  TOPIC_AUTHORIZATION_FAILED: ['ForbiddenException'],
  CLUSTER_AUTHORIZATION_FAILED: ['ForbiddenException'],
}

/**
 * What the client is told when the cluster's Kafka failed `what`: the KafkaError or ClientError
 * at the root of `err` (cluster-admin wraps them) as the model's exception; anything else as is.
 */
export function kafkaFailure(err: unknown, what: string): unknown {
  let root = err
  while (root instanceof Error && !(root instanceof KafkaError) && !(root instanceof ClientError) && root.cause !== undefined) root = root.cause
  if (root instanceof Aborted) return new ApiError('ServiceUnavailableException', `${what}: the control plane is closing`)
  if (root instanceof ClientError) {
    return new ApiError('ClusterConnectivityException', `${what}: the cluster's brokers cannot be reached (${root.message})`)
  }
  if (root instanceof KafkaError) {
    const mapped = KAFKA_ERRORS[root.error.name]
    const message = `${what}: Kafka answered ${root.error.name}: ${root.message}`
    if (mapped !== undefined) return new ApiError(mapped[0], message, mapped[1])
    // Retriable errors that outlasted the retries: the cluster cannot do it now.
    return new ApiError(root.error.retriable ? 'ServiceUnavailableException' : 'KafkaRequestException', message)
  }
  return err
}

async function kafka<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw kafkaFailure(err, what)
  }
}

function deadline(): number {
  return Date.now() + KAFKA_DEADLINE_MS
}

// ---- members -----------------------------------------------------------------------------------

/** Kafka's rule for topic names (the brokers' own check), refused here before Kafka is asked. */
function checkTopicName(name: string, member = 'topicName'): string {
  try {
    validateTopicName(name)
  } catch (err) {
    fail(member, `is not a valid topic name: ${(err as Error).message.slice(0, 400)}`)
  }
  return name
}

/** The topic named in the path. */
function pathTopic(req: ApiRequest): string {
  return checkTopicName(req.params.topicName ?? '')
}

/**
 * `configs`: base64 of a JSON object or of properties text. `allowNull`: a JSON null value
 * (UpdateTopic: back to the default).
 */
function decodeConfigs(raw: string, allowNull: boolean): Record<string, string | null> {
  const b64 = raw.replace(/\s+/g, '')
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) fail('configs', 'must be base64')
  const text = Buffer.from(b64, 'base64').toString('utf8')
  const out: Record<string, string | null> = {}
  const put = (name: string, value: string | null) => {
    if (!/^[a-zA-Z0-9._-]{1,255}$/.test(name)) fail('configs', `has a config name that is not one: ${JSON.stringify(name.slice(0, 100))}`)
    out[name] = value
  }
  if (text.trimStart().startsWith('{')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      fail('configs', `is not valid JSON once decoded: ${(err as Error).message}`)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('configs', 'must decode to a JSON object')
    for (const [name, value] of Object.entries(parsed)) {
      if (value === null && allowNull) put(name, null)
      else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') put(name, String(value))
      else fail('configs', `value of ${JSON.stringify(name.slice(0, 100))} must be a string, a number or a boolean${allowNull ? ' (or null: the default)' : ''}`)
    }
    return out
  }
  for (const line of text.split(/\r?\n/)) {
    const l = line.trim()
    if (l === '' || l.startsWith('#') || l.startsWith('!')) continue
    const eq = l.indexOf('=')
    if (eq <= 0) fail('configs', `must decode to a JSON object or to name=value lines (got ${JSON.stringify(l.slice(0, 100))})`)
    put(l.slice(0, eq).trim(), l.slice(eq + 1).trim())
  }
  return out
}

function encodeConfigs(configs: Record<string, string>): string {
  return Buffer.from(JSON.stringify(configs), 'utf8').toString('base64')
}

// ---- the topic -------------------------------------------------------------------------------

async function findTopic(admin: ClusterAdmin, cluster: ClusterRecord, name: string): Promise<TopicView> {
  const [t] = await kafka(`Describing topic ${name}`, () => admin.topics([name], deadline()))
  if (t === undefined || t.name !== name) throw notFound(`Topic ${name} does not exist in cluster ${cluster.arn}`, 'topicName')
  return t
}

const replicationFactorOf = (t: TopicView): number => Math.max(0, ...t.partitions.map((p) => p.replicas.length))
const outOfSync = (t: TopicView): number => t.partitions.reduce((n, p) => n + p.replicas.filter((r) => !p.isr.includes(r)).length, 0)

function answer(cluster: ClusterRecord, name: string, status: Status): ApiResponse {
  return { body: { topicArn: topicArn(cluster.arn, name), topicName: name, status } }
}

// ---- handlers ----------------------------------------------------------------------------------

/** Pages by name: nextToken carries the last name answered, so topics created or deleted meanwhile shift nothing. */
export async function listTopics(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const { maxResults } = pageRequest(new URLSearchParams(req.query.has('maxResults') ? { maxResults: req.query.get('maxResults') ?? '' } : {}))
  const token = req.query.get('nextToken')
  let after: string | null = null
  if (token !== null && token !== '') {
    const m = /^t:(.+)$/s.exec(Buffer.from(token, 'base64url').toString('utf8'))
    if (m === null) fail('nextToken', 'is not a token this API issued')
    after = m[1] as string
  }
  const prefix = req.query.get('topicNameFilter') ?? ''
  const admin = adminOf(ctx, cluster)
  const all = await kafka('Listing topics', () => admin.topics(null, deadline()))
  const matching = all.filter((t) => t.name.startsWith(prefix) && (after === null || t.name > after))
  const items = matching.slice(0, maxResults)
  const more = matching.length > maxResults
  return {
    body: {
      topics: items.map((t) => ({
        topicArn: topicArn(cluster.arn, t.name),
        topicName: t.name,
        partitionCount: t.partitions.length,
        replicationFactor: replicationFactorOf(t),
        outOfSyncReplicaCount: outOfSync(t),
      })),
      ...(more ? { nextToken: Buffer.from(`t:${(items[items.length - 1] as TopicView).name}`).toString('base64url') } : {}),
    },
  }
}

export async function describeTopic(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const name = pathTopic(req)
  const admin = adminOf(ctx, cluster)
  const t = await findTopic(admin, cluster, name)
  const [configs, moving] = await Promise.all([
    kafka(`Describing the configs of topic ${name}`, () => admin.topicConfigs(name, deadline())),
    admin.topicReassignments(name, deadline()).catch(() => 0),
  ])
  return {
    body: {
      topicArn: topicArn(cluster.arn, name),
      topicName: name,
      partitionCount: t.partitions.length,
      replicationFactor: replicationFactorOf(t),
      configs: encodeConfigs(configs),
      status: moving > 0 ? 'UPDATING' : 'ACTIVE',
    },
  }
}

export async function describeTopicPartitions(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const name = pathTopic(req)
  pageRequest(req.query) // refuses a bad maxResults or nextToken before Kafka is asked
  const t = await findTopic(adminOf(ctx, cluster), cluster, name)
  const { items, nextToken } = page(t.partitions, req.query)
  return {
    body: {
      partitions: items.map((p) => ({ partition: p.partition, leader: p.leader, replicas: p.replicas, isr: p.isr })),
      ...(nextToken === undefined ? {} : { nextToken }),
    },
  }
}

export async function createTopic(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const name = checkTopicName(requiredString(req.body, 'topicName', { max: 249 }))
  const partitionCount = requiredInteger(req.body, 'partitionCount', 1, MAX_PARTITIONS)
  const replicationFactor = requiredInteger(req.body, 'replicationFactor', 1, MAX_REPLICATION_FACTOR)
  const rawConfigs = optionalString(req.body, 'configs')
  const configs = rawConfigs === undefined ? {} : (decodeConfigs(rawConfigs, false) as Record<string, string>)
  const admin = adminOf(ctx, cluster)
  await kafka(`Creating topic ${name}`, () => admin.createTopic(name, partitionCount, replicationFactor, configs, deadline()))
  return answer(cluster, name, 'CREATING')
}

export async function updateTopic(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const name = pathTopic(req)
  const rawConfigs = optionalString(req.body, 'configs')
  const partitionCount = optionalInteger(req.body, 'partitionCount', 1, MAX_PARTITIONS)
  if (rawConfigs === undefined && partitionCount === undefined) throw badRequest('UpdateTopic needs configs, partitionCount or both', 'configs')
  const configs = rawConfigs === undefined ? {} : decodeConfigs(rawConfigs, true)
  const admin = adminOf(ctx, cluster)
  const t = await findTopic(admin, cluster, name)
  if (partitionCount !== undefined && partitionCount < t.partitions.length) {
    fail('partitionCount', `can only grow: topic ${name} has ${t.partitions.length} partitions (got ${partitionCount})`)
  }
  if (Object.keys(configs).length > 0) {
    await kafka(`Updating the configs of topic ${name}`, () => admin.alterTopicConfigs(name, configs, deadline()))
  }
  if (partitionCount !== undefined && partitionCount > t.partitions.length) {
    await kafka(`Adding partitions to topic ${name}`, () => admin.createPartitions(name, partitionCount, deadline()))
  }
  return answer(cluster, name, 'UPDATING')
}

export async function deleteTopic(req: ApiRequest, ctx: ApiContext): Promise<ApiResponse> {
  const cluster = findCluster(ctx, req.params.clusterArn ?? '')
  const name = pathTopic(req)
  const admin = adminOf(ctx, cluster)
  const t = await findTopic(admin, cluster, name)
  if (t.internal) fail('topicName', `${name} is an internal topic of Kafka's and cannot be deleted`)
  await kafka(`Deleting topic ${name}`, () => admin.deleteTopic(name, deadline()))
  return answer(cluster, name, 'DELETING')
}
