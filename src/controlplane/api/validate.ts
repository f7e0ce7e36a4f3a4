// Request validation, in one place. Every refusal is a BadRequestException whose invalidParameter
// is the member's name as the request spells it (e.g. `numberOfBrokerNodes`) and whose message
// names the member's path in the body.

import { badRequest } from '../errors.js'
import type { BrokerNodeGroupInfo, ClusterSpec } from '../model.js'
import type { ApiContext } from './context.js'
import { isKnownVersion, KAFKA_VERSIONS, maxBrokers } from './kafka-versions.js'

export type Json = Record<string, unknown>

/** The last member name of a dotted path: what invalidParameter carries. */
function leaf(path: string): string {
  const name = path.slice(path.lastIndexOf('.') + 1)
  return name.replace(/\[\d+\]$/, '')
}

export function fail(path: string, why: string): never {
  throw badRequest(`${path} ${why}`, leaf(path))
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function optionalObject(obj: Json, name: string, path = name): Json | undefined {
  const v = obj[name]
  if (v === undefined || v === null) return undefined
  if (!isObject(v)) fail(path, 'must be an object')
  return v
}

export function requiredObject(obj: Json, name: string, path = name): Json {
  return optionalObject(obj, name, path) ?? fail(path, 'is required')
}

export interface StringRule {
  min?: number
  max?: number
  pattern?: RegExp
  /** Said when the pattern does not match. */
  patternText?: string
}

export function optionalString(obj: Json, name: string, rule: StringRule = {}, path = name): string | undefined {
  const v = obj[name]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') fail(path, 'must be a string')
  if (rule.min !== undefined && v.length < rule.min) fail(path, `must be at least ${rule.min} characters long`)
  if (rule.max !== undefined && v.length > rule.max) fail(path, `must be at most ${rule.max} characters long`)
  if (rule.pattern !== undefined && !rule.pattern.test(v)) fail(path, rule.patternText ?? `must match ${rule.pattern}`)
  return v
}

export function requiredString(obj: Json, name: string, rule: StringRule = {}, path = name): string {
  return optionalString(obj, name, { min: 1, ...rule }, path) ?? fail(path, 'is required')
}

export function optionalInteger(obj: Json, name: string, min: number, max: number, path = name): number | undefined {
  const v = obj[name]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(path, 'must be an integer')
  if (v < min || v > max) fail(path, `must be between ${min} and ${max} (got ${v})`)
  return v
}

export function requiredInteger(obj: Json, name: string, min: number, max: number, path = name): number {
  return optionalInteger(obj, name, min, max, path) ?? fail(path, 'is required')
}

export function optionalBoolean(obj: Json, name: string, path = name): boolean | undefined {
  const v = obj[name]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'boolean') fail(path, 'must be a boolean')
  return v
}

export function optionalEnum<T extends string>(obj: Json, name: string, values: readonly T[], path = name): T | undefined {
  const v = obj[name]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) fail(path, `must be one of ${values.join(', ')}`)
  return v as T
}

export function optionalStringList(obj: Json, name: string, path = name): string[] | undefined {
  const v = obj[name]
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '')) fail(path, 'must be a list of non-empty strings')
  return v as string[]
}

export function requiredStringList(obj: Json, name: string, path = name): string[] {
  const v = optionalStringList(obj, name, path)
  if (v === undefined || v.length === 0) fail(path, 'is required and must not be empty')
  return v
}

/** MSK's tag rules: keys 1-128, values 0-256 characters, at most 50 a resource. */
export function optionalTags(obj: Json, name: string, path = name): Record<string, string> | undefined {
  const v = optionalObject(obj, name, path)
  if (v === undefined) return undefined
  const entries = Object.entries(v)
  if (entries.length > 50) fail(path, 'must have at most 50 tags')
  for (const [key, value] of entries) {
    if (key.length < 1 || key.length > 128) fail(path, `key "${key}" must be 1 to 128 characters long`)
    if (typeof value !== 'string' || value.length > 256) fail(path, `value of "${key}" must be a string of at most 256 characters`)
  }
  return v as Record<string, string>
}

/** Query parameters: maxResults (1-100) and nextToken, the model's pagination pair. */
export function pageRequest(query: URLSearchParams): { maxResults: number; offset: number } {
  const rawMax = query.get('maxResults')
  let maxResults = 100
  if (rawMax !== null) {
    if (!/^\d+$/.test(rawMax)) fail('maxResults', 'must be an integer')
    maxResults = Number(rawMax)
    if (maxResults < 1 || maxResults > 100) fail('maxResults', `must be between 1 and 100 (got ${maxResults})`)
  }
  const token = query.get('nextToken')
  let offset = 0
  if (token !== null && token !== '') {
    const decoded = Buffer.from(token, 'base64url').toString('utf8')
    const m = /^o:(\d{1,9})$/.exec(decoded)
    if (m === null) fail('nextToken', 'is not a token this API issued')
    offset = Number(m[1])
  }
  return { maxResults, offset }
}

/** One page of `items`, and the token for the next one when there is more. */
export function page<T>(items: T[], query: URLSearchParams): { items: T[]; nextToken?: string } {
  const { maxResults, offset } = pageRequest(query)
  const slice = items.slice(offset, offset + maxResults)
  const next = offset + maxResults
  return next < items.length ? { items: slice, nextToken: Buffer.from(`o:${next}`).toString('base64url') } : { items: slice }
}

// ---- MSK's members -------------------------------------------------------------------------

export const CLUSTER_NAME = { min: 1, max: 64, pattern: /^[0-9A-Za-z][0-9A-Za-z-]*$/, patternText: 'must start with a letter or digit and hold only letters, digits and hyphens' }
export const INSTANCE_TYPE = { min: 5, max: 32, pattern: /^kafka\.[a-z0-9]+\.[a-z0-9]+$/, patternText: 'must be a broker instance type such as kafka.m5.large' }
export const ENHANCED_MONITORING = ['DEFAULT', 'PER_BROKER', 'PER_TOPIC_PER_BROKER', 'PER_TOPIC_PER_PARTITION'] as const
export const STORAGE_MODES = ['LOCAL', 'TIERED'] as const
export const REBALANCING_STATUS = ['PAUSED', 'ACTIVE'] as const
/** The EBS volume size MSK gives a broker when none is asked for (GiB). */
export const DEFAULT_VOLUME_GIB = 1000
export const MAX_VOLUME_GIB = 16384

export function kafkaVersion(obj: Json, name: string, path = name): string {
  const v = requiredString(obj, name, { max: 128 }, path)
  if (!isKnownVersion(v)) fail(path, `${v} is not a Kafka version Fjord offers (${KAFKA_VERSIONS.join(', ')})`)
  return v
}

export function volumeSize(obj: Json, name: string, path = name): number | undefined {
  return optionalInteger(obj, name, 1, MAX_VOLUME_GIB, path)
}

export function provisionedThroughput(obj: Json, path: string): { enabled?: boolean; volumeThroughput?: number } | undefined {
  const t = optionalObject(obj, 'provisionedThroughput', path)
  if (t === undefined) return undefined
  const enabled = optionalBoolean(t, 'enabled', `${path}.enabled`)
  const volumeThroughput = optionalInteger(t, 'volumeThroughput', 250, 2375, `${path}.volumeThroughput`)
  return { enabled, volumeThroughput }
}

/** BrokerNodeGroupInfo: 2 or 3 distinct client subnets (one a zone), a kafka.* instance type, EBS 1-16384 GiB. */
export function brokerNodeGroupInfo(obj: Json, path: string): BrokerNodeGroupInfo {
  const g = requiredObject(obj, 'brokerNodeGroupInfo', path)
  const subnets = requiredStringList(g, 'clientSubnets', `${path}.clientSubnets`)
  if (new Set(subnets).size !== subnets.length) fail(`${path}.clientSubnets`, 'must not name a subnet twice')
  if (subnets.length < 2 || subnets.length > 3) {
    fail(`${path}.clientSubnets`, `must name 2 or 3 subnets, one for each availability zone (got ${subnets.length})`)
  }
  const instanceType = requiredString(g, 'instanceType', INSTANCE_TYPE, `${path}.instanceType`)
  const securityGroups = optionalStringList(g, 'securityGroups', `${path}.securityGroups`)
  const brokerAZDistribution = optionalEnum(g, 'brokerAZDistribution', ['DEFAULT'], `${path}.brokerAZDistribution`)
  const storage = optionalObject(g, 'storageInfo', `${path}.storageInfo`)
  const ebs = storage === undefined ? undefined : optionalObject(storage, 'ebsStorageInfo', `${path}.storageInfo.ebsStorageInfo`)
  const size = ebs === undefined ? undefined : volumeSize(ebs, 'volumeSize', `${path}.storageInfo.ebsStorageInfo.volumeSize`)
  const throughput = ebs === undefined ? undefined : provisionedThroughput(ebs, `${path}.storageInfo.ebsStorageInfo.provisionedThroughput`)
  const connectivityInfo = optionalObject(g, 'connectivityInfo', `${path}.connectivityInfo`)
  const zoneIds = optionalStringList(g, 'zoneIds', `${path}.zoneIds`)
  const group: BrokerNodeGroupInfo = {
    clientSubnets: subnets,
    instanceType,
    storageInfo: { ebsStorageInfo: { volumeSize: size ?? DEFAULT_VOLUME_GIB, provisionedThroughput: throughput } },
  }
  if (securityGroups !== undefined) group.securityGroups = securityGroups
  if (brokerAZDistribution !== undefined) group.brokerAZDistribution = brokerAZDistribution
  if (connectivityInfo !== undefined) group.connectivityInfo = connectivityInfo
  if (zoneIds !== undefined) group.zoneIds = zoneIds
  return group
}

/** numberOfBrokerNodes: positive, a multiple of the zone count, at most 30 (ZooKeeper) or 60 (KRaft). */
export function brokerCount(obj: Json, name: string, zones: number, version: string, path = name): number {
  const n = requiredInteger(obj, name, 1, maxBrokers(version), path)
  if (n % zones !== 0) fail(path, `must be a multiple of the number of availability zones (${zones}); got ${n}`)
  return n
}

/** ConfigurationInfo: an existing configuration and revision, made for `version` when it names versions. */
export function configurationInfo(
  ctx: ApiContext,
  obj: Json,
  name: string,
  version: string,
  required: boolean,
  path = name,
): { arn: string; revision: number } | undefined {
  const info = required ? requiredObject(obj, name, path) : optionalObject(obj, name, path)
  if (info === undefined) return undefined
  const arn = requiredString(info, 'arn', {}, `${path}.arn`)
  const revision = requiredInteger(info, 'revision', 1, Number.MAX_SAFE_INTEGER, `${path}.revision`)
  const config = ctx.store.getConfiguration(arn)
  if (config === undefined || config.state !== 'ACTIVE') fail(path, `names configuration ${arn}, which does not exist`)
  if (!config.revisions.some((r) => r.revision === revision)) fail(path, `names revision ${revision} of ${config.name}, which does not exist`)
  if (config.kafkaVersions.length > 0 && !config.kafkaVersions.includes(version)) {
    fail(path, `names configuration ${config.name}, made for Kafka ${config.kafkaVersions.join(', ')}, not ${version}`)
  }
  return { arn, revision }
}

/** The members of a provisioned create request (CreateCluster, CreateClusterV2's provisioned) as a spec. */
export function provisionedSpec(ctx: ApiContext, obj: Json, prefix: string): ClusterSpec {
  const version = kafkaVersion(obj, 'kafkaVersion', `${prefix}kafkaVersion`)
  const group = brokerNodeGroupInfo(obj, `${prefix}brokerNodeGroupInfo`)
  const spec: ClusterSpec = {
    numberOfBrokerNodes: brokerCount(obj, 'numberOfBrokerNodes', group.clientSubnets.length, version, `${prefix}numberOfBrokerNodes`),
    brokerNodeGroupInfo: group,
    kafkaVersion: version,
    enhancedMonitoring: optionalEnum(obj, 'enhancedMonitoring', ENHANCED_MONITORING, `${prefix}enhancedMonitoring`) ?? 'DEFAULT',
    storageMode: optionalEnum(obj, 'storageMode', STORAGE_MODES, `${prefix}storageMode`) ?? 'LOCAL',
  }
  const config = configurationInfo(ctx, obj, 'configurationInfo', version, false, `${prefix}configurationInfo`)
  if (config !== undefined) spec.configurationInfo = config
  const clientAuthentication = optionalObject(obj, 'clientAuthentication', `${prefix}clientAuthentication`)
  if (clientAuthentication !== undefined) spec.clientAuthentication = clientAuthentication
  const encryption = encryptionInfo(obj, `${prefix}encryptionInfo`)
  if (encryption !== undefined) spec.encryptionInfo = encryption
  const openMonitoring = optionalObject(obj, 'openMonitoring', `${prefix}openMonitoring`)
  if (openMonitoring !== undefined) spec.openMonitoring = openMonitoring
  const loggingInfo = optionalObject(obj, 'loggingInfo', `${prefix}loggingInfo`)
  if (loggingInfo !== undefined) spec.loggingInfo = loggingInfo
  const rebalancing = rebalancingInfo(obj, false, `${prefix}rebalancing`)
  if (rebalancing !== undefined) spec.rebalancing = rebalancing
  return spec
}

export function encryptionInfo(obj: Json, path: string): Json | undefined {
  const info = optionalObject(obj, 'encryptionInfo', path)
  if (info === undefined) return undefined
  const inTransit = optionalObject(info, 'encryptionInTransit', `${path}.encryptionInTransit`)
  if (inTransit !== undefined) {
    optionalEnum(inTransit, 'clientBroker', ['TLS', 'TLS_PLAINTEXT', 'PLAINTEXT'], `${path}.encryptionInTransit.clientBroker`)
    optionalBoolean(inTransit, 'inCluster', `${path}.encryptionInTransit.inCluster`)
  }
  return info
}

export function rebalancingInfo(obj: Json, required: boolean, path: string): { status?: string } | undefined {
  const r = required ? requiredObject(obj, 'rebalancing', path) : optionalObject(obj, 'rebalancing', path)
  if (r === undefined) return undefined
  const status = optionalEnum(r, 'status', REBALANCING_STATUS, `${path}.status`)
  if (required && status === undefined) fail(`${path}.status`, 'is required')
  return { status }
}
