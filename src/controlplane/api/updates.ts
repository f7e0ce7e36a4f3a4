// The Update* operations and RebootBroker. Each is accepted through acceptUpdate (operations.ts):
// the cluster must be PROVISIONED (else 400), ACTIVE (else 409) and the body's currentVersion its
// current one (else 409); then ONE transaction inserts the operation and sets the cluster's
// state, activeOperationArn and a new currentVersion, and the runner is woken.
//
// THE CONTRACT WITH THE RECONCILER — what each operation writes:
//
//   Every operation: OperationRecord { state: 'PENDING', steps: [], clientRequestId: null,
//   creationTime: now, endTime: null, errorInfo: null }.
//   targetClusterInfo holds WHOLE top-level ClusterSpec members: on completion the reconciler sets
//   `spec[key] = targetClusterInfo[key]` for every key present (Object.assign(spec, target)).
//   sourceClusterInfo holds the same keys as they were at accept time (for DescribeClusterOperation).
//   The spec itself is NOT changed at accept time (DescribeCluster shows the old values meanwhile).
//
//   op type                       cluster.state     targetClusterInfo                              params
//   CREATE (clusters.ts)          CREATING          the whole ClusterSpec (same as cluster.spec)   {}
//   DELETE (clusters.ts)          DELETING          null                                           {}
//   UPDATE_BROKER_COUNT           UPDATING          { numberOfBrokerNodes }                         {}
//   UPDATE_BROKER_STORAGE  'ALL'  UPDATING          { brokerNodeGroupInfo (whole, new              {}
//                                                     storageInfo.ebsStorageInfo), brokerVolumeSizeGiB: {} }
//   UPDATE_BROKER_STORAGE  ids    UPDATING          { brokerVolumeSizeGiB (whole map, per broker id) } {}
//   UPDATE_STORAGE                UPDATING          { brokerNodeGroupInfo? (whole, new ebs size /   {}
//                                                     provisionedThroughput), storageMode? }
//   UPDATE_BROKER_TYPE            UPDATING          { brokerNodeGroupInfo (whole, new instanceType) } {}
//   UPDATE_CLUSTER_CONFIGURATION  UPDATING          { configurationInfo }                           {}
//   UPDATE_CLUSTER_KAFKA_VERSION  UPDATING          { kafkaVersion, configurationInfo? }            {}
//   UPDATE_MONITORING             UPDATING          { enhancedMonitoring?, openMonitoring?, loggingInfo? } {}
//   UPDATE_SECURITY               UPDATING          { clientAuthentication?, encryptionInfo? }      {}
//   UPDATE_CONNECTIVITY           UPDATING          { brokerNodeGroupInfo? (whole, new connectivityInfo) } { zookeeperAccess? }
//   UPDATE_REBALANCING            UPDATING          { rebalancing }                                 {}
//   REBOOT_NODE (RebootBroker)    REBOOTING_BROKER  null                                           { brokerIds: number[] } (one id)
//
//   Serverless clusters (CreateClusterV2 serverless): spec.numberOfBrokerNodes 3, clientSubnets has
//   exactly 3 entries, zone i = clientSubnets[i] (vpcConfigs[0].subnetIds, repeated when fewer than
//   3), kafkaVersion SERVERLESS_KAFKA_VERSION, spec.serverless = { vpcConfigs, clientAuthentication? }.
//   For provisioned clusters clientSubnets are distinct, one a zone.
//
// When done the reconciler sets the operation UPDATE_COMPLETE (or UPDATE_FAILED with errorInfo)
// and endTime, and the cluster ACTIVE (or FAILED) with activeOperationArn null (or deletes it).

import type { BrokerNodeGroupInfo, ClusterRecord, ClusterSpec } from '../model.js'
import type { ApiContext, ApiRequest, ApiResponse } from './context.js'
import { compatibleTargets } from './kafka-versions.js'
import { acceptUpdate } from './operations.js'
import {
  brokerCount,
  configurationInfo,
  DEFAULT_VOLUME_GIB,
  encryptionInfo,
  ENHANCED_MONITORING,
  fail,
  INSTANCE_TYPE,
  isObject,
  kafkaVersion,
  optionalEnum,
  optionalInteger,
  optionalObject,
  provisionedThroughput,
  rebalancingInfo,
  requiredString,
  requiredStringList,
  STORAGE_MODES,
  volumeSize,
  MAX_VOLUME_GIB,
} from './validate.js'

function groupWith(cluster: ClusterRecord, change: (g: BrokerNodeGroupInfo) => void): BrokerNodeGroupInfo {
  const g = structuredClone(cluster.spec.brokerNodeGroupInfo)
  change(g)
  return g
}

/** The cluster's broker group with a new EBS volume size and/or provisioned throughput for every broker. */
function groupWithStorage(cluster: ClusterRecord, size: number | undefined, throughput: ReturnType<typeof provisionedThroughput>): BrokerNodeGroupInfo {
  return groupWith(cluster, (g) => {
    const ebs = { ...(g.storageInfo?.ebsStorageInfo ?? {}) }
    if (size !== undefined) ebs.volumeSize = size
    if (throughput !== undefined) ebs.provisionedThroughput = throughput
    g.storageInfo = { ...g.storageInfo, ebsStorageInfo: ebs }
  })
}

function clusterVolume(cluster: ClusterRecord): number {
  return cluster.spec.brokerNodeGroupInfo.storageInfo?.ebsStorageInfo?.volumeSize ?? DEFAULT_VOLUME_GIB
}

/** The broker ids the cluster has: its runtime's, or 1..numberOfBrokerNodes before it runs. */
function brokerIds(cluster: ClusterRecord): number[] {
  if (cluster.runtime !== null) return cluster.runtime.brokers.map((b) => b.id)
  return Array.from({ length: cluster.spec.numberOfBrokerNodes }, (_, i) => i + 1)
}

function atLeastOne(target: Partial<ClusterSpec>, names: string): void {
  if (Object.keys(target).length === 0) fail(names.split(',')[0] ?? names, `is required: give at least one of ${names}`)
}

export function updateBrokerCount(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return acceptUpdate(req, ctx, { type: 'UPDATE_BROKER_COUNT' }, (cluster) => {
    const zones = cluster.spec.brokerNodeGroupInfo.clientSubnets.length
    const n = brokerCount(req.body, 'targetNumberOfBrokerNodes', zones, cluster.spec.kafkaVersion)
    if (n === cluster.spec.numberOfBrokerNodes) fail('targetNumberOfBrokerNodes', `is the cluster's broker count already (${n})`)
    return { targetClusterInfo: { numberOfBrokerNodes: n } }
  })
}

export function updateBrokerStorage(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return acceptUpdate(req, ctx, { type: 'UPDATE_BROKER_STORAGE' }, (cluster) => {
    const raw = req.body.targetBrokerEBSVolumeInfo
    if (!Array.isArray(raw) || raw.length === 0) fail('targetBrokerEBSVolumeInfo', 'is required and must not be empty')
    const current = clusterVolume(cluster)
    const perBroker = { ...(cluster.spec.brokerVolumeSizeGiB ?? {}) }
    const ids = brokerIds(cluster)
    let all: { size?: number; throughput?: ReturnType<typeof provisionedThroughput> } | undefined
    raw.forEach((entry: unknown, i) => {
      const path = `targetBrokerEBSVolumeInfo[${i}]`
      if (!isObject(entry)) fail(path, 'must be an object')
      const node = requiredString(entry, 'kafkaBrokerNodeId', {}, `${path}.kafkaBrokerNodeId`)
      const size = volumeSize(entry, 'volumeSizeGB', `${path}.volumeSizeGB`)
      const throughput = provisionedThroughput(entry, `${path}.provisionedThroughput`)
      if (size === undefined && throughput === undefined) fail(`${path}.volumeSizeGB`, 'is required')
      if (node.toUpperCase() === 'ALL') {
        if (raw.length !== 1) fail(`${path}.kafkaBrokerNodeId`, 'ALL must be the only entry')
        const largest = Math.max(current, ...Object.values(perBroker))
        if (size !== undefined && size <= largest) fail(`${path}.volumeSizeGB`, `must be larger than the current ${largest} GiB: storage only grows`)
        all = { size, throughput }
        return
      }
      const id = Number(node)
      if (!Number.isInteger(id) || !ids.includes(id)) fail(`${path}.kafkaBrokerNodeId`, `names no broker of the cluster (${node}); brokers are ${ids.join(', ')}`)
      if (size === undefined) fail(`${path}.volumeSizeGB`, 'is required for a single broker')
      const now = perBroker[String(id)] ?? current
      if (size <= now) fail(`${path}.volumeSizeGB`, `must be larger than broker ${id}'s current ${now} GiB: storage only grows`)
      perBroker[String(id)] = size
    })
    if (all === undefined) return { targetClusterInfo: { brokerVolumeSizeGiB: perBroker } }
    const { size, throughput } = all
    return { targetClusterInfo: { brokerNodeGroupInfo: groupWithStorage(cluster, size, throughput), brokerVolumeSizeGiB: {} } }
  })
}

export function updateStorage(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return acceptUpdate(req, ctx, { type: 'UPDATE_STORAGE' }, (cluster) => {
    const size = optionalInteger(req.body, 'volumeSizeGB', 1, MAX_VOLUME_GIB)
    const throughput = provisionedThroughput(req.body, 'provisionedThroughput')
    const storageMode = optionalEnum(req.body, 'storageMode', STORAGE_MODES)
    const target: Partial<ClusterSpec> = {}
    if (size !== undefined || throughput !== undefined) {
      const current = clusterVolume(cluster)
      if (size !== undefined && size <= current) fail('volumeSizeGB', `must be larger than the current ${current} GiB: storage only grows`)
      target.brokerNodeGroupInfo = groupWithStorage(cluster, size, throughput)
    }
    if (storageMode !== undefined) {
      if (storageMode === cluster.spec.storageMode) fail('storageMode', `is the cluster's storage mode already (${storageMode})`)
      target.storageMode = storageMode
    }
    atLeastOne(target, 'volumeSizeGB, provisionedThroughput, storageMode')
    return { targetClusterInfo: target }
  })
}

export function updateBrokerType(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return acceptUpdate(req, ctx, { type: 'UPDATE_BROKER_TYPE' }, (cluster) => {
    const type = requiredString(req.body, 'targetInstanceType', INSTANCE_TYPE)
    if (type === cluster.spec.brokerNodeGroupInfo.instanceType) fail('targetInstanceType', `is the cluster's instance type already (${type})`)
    return { targetClusterInfo: { brokerNodeGroupInfo: groupWith(cluster, (g) => (g.instanceType = type)) } }
  })
}

export function updateClusterConfiguration(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return acceptUpdate(req, ctx, { type: 'UPDATE_CLUSTER_CONFIGURATION' }, (cluster) => {
    const info = configurationInfo(ctx, req.body, 'configurationInfo', cluster.spec.kafkaVersion, true)
    return { targetClusterInfo: { configurationInfo: info } }
  })
}

export function updateClusterKafkaVersion(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return acceptUpdate(req, ctx, { type: 'UPDATE_CLUSTER_KAFKA_VERSION' }, (cluster) => {
    const version = kafkaVersion(req.body, 'targetKafkaVersion')
    const allowed = compatibleTargets(cluster.spec.kafkaVersion)
    if (!allowed.includes(version)) {
      fail('targetKafkaVersion', `${version} is not an upgrade of ${cluster.spec.kafkaVersion}; allowed: ${allowed.join(', ') || 'none'}`)
    }
    const info = configurationInfo(ctx, req.body, 'configurationInfo', version, false)
    if (info === undefined && cluster.spec.configurationInfo !== undefined) {
      const config = ctx.store.getConfiguration(cluster.spec.configurationInfo.arn)
      if (config !== undefined && config.kafkaVersions.length > 0 && !config.kafkaVersions.includes(version)) {
        fail('configurationInfo', `is required: the cluster's configuration ${config.name} is not made for Kafka ${version}`)
      }
    }
    return { targetClusterInfo: info === undefined ? { kafkaVersion: version } : { kafkaVersion: version, configurationInfo: info } }
  })
}

export function updateMonitoring(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return acceptUpdate(req, ctx, { type: 'UPDATE_MONITORING' }, () => {
    const target: Partial<ClusterSpec> = {}
    const enhanced = optionalEnum(req.body, 'enhancedMonitoring', ENHANCED_MONITORING)
    if (enhanced !== undefined) target.enhancedMonitoring = enhanced
    const open = optionalObject(req.body, 'openMonitoring')
    if (open !== undefined) target.openMonitoring = open
    const logging = optionalObject(req.body, 'loggingInfo')
    if (logging !== undefined) target.loggingInfo = logging
    atLeastOne(target, 'enhancedMonitoring, openMonitoring, loggingInfo')
    return { targetClusterInfo: target }
  })
}

export function updateSecurity(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return acceptUpdate(req, ctx, { type: 'UPDATE_SECURITY' }, () => {
    const target: Partial<ClusterSpec> = {}
    const auth = optionalObject(req.body, 'clientAuthentication')
    if (auth !== undefined) target.clientAuthentication = auth
    const encryption = encryptionInfo(req.body, 'encryptionInfo')
    if (encryption !== undefined) target.encryptionInfo = encryption
    atLeastOne(target, 'clientAuthentication, encryptionInfo')
    return { targetClusterInfo: target }
  })
}

export function updateConnectivity(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return acceptUpdate(req, ctx, { type: 'UPDATE_CONNECTIVITY' }, (cluster) => {
    const connectivity = optionalObject(req.body, 'connectivityInfo')
    const zookeeperAccess = optionalObject(req.body, 'zookeeperAccess')
    if (connectivity === undefined && zookeeperAccess === undefined) {
      fail('connectivityInfo', 'is required: give at least one of connectivityInfo, zookeeperAccess')
    }
    const target: Partial<ClusterSpec> = {}
    if (connectivity !== undefined) target.brokerNodeGroupInfo = groupWith(cluster, (g) => (g.connectivityInfo = connectivity))
    return { targetClusterInfo: target, params: zookeeperAccess === undefined ? {} : { zookeeperAccess } }
  })
}

export function updateRebalancing(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return acceptUpdate(req, ctx, { type: 'UPDATE_REBALANCING' }, () => ({
    targetClusterInfo: { rebalancing: rebalancingInfo(req.body, true, 'rebalancing') },
  }))
}

/** RebootBroker: no currentVersion; exactly one broker id (as MSK allows), and it must exist. */
export function rebootBroker(req: ApiRequest, ctx: ApiContext): ApiResponse {
  return acceptUpdate(req, ctx, { type: 'REBOOT_NODE', state: 'REBOOTING_BROKER', versioned: false }, (cluster) => {
    const ids = requiredStringList(req.body, 'brokerIds')
    if (ids.length !== 1) fail('brokerIds', `must name exactly one broker (got ${ids.length})`)
    const id = Number(ids[0])
    const existing = brokerIds(cluster)
    if (!Number.isInteger(id) || !existing.includes(id)) fail('brokerIds', `names no broker of the cluster (${ids[0]}); brokers are ${existing.join(', ')}`)
    return { targetClusterInfo: null, params: { brokerIds: [id] } }
  })
}
