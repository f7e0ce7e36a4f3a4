// Records → MSK's wire shapes (camelCase JSON, ISO-8601 times). Members that are unset are left
// out, as MSK leaves them out.

import { nodeArn } from '../arn.js'
import type {
  BrokerRuntime,
  ClusterRecord,
  ClusterSpec,
  ConfigurationRecord,
  ConfigurationRevision,
  OperationRecord,
  OperationType,
} from '../model.js'

function brokerSoftwareInfo(spec: Partial<ClusterSpec>): Record<string, unknown> {
  return {
    configurationArn: spec.configurationInfo?.arn,
    configurationRevision: spec.configurationInfo?.revision,
    kafkaVersion: spec.kafkaVersion,
  }
}

function stateInfo(cluster: ClusterRecord): { code: string; message: string } | undefined {
  if (cluster.stateInfo !== null) return cluster.stateInfo
  const notice = cluster.runtime?.notice
  return notice ? { code: 'FJORD_NOTICE', message: notice } : undefined
}

/** The members ClusterInfo (V1) and Provisioned (V2) share. */
function provisionedMembers(cluster: ClusterRecord): Record<string, unknown> {
  const spec = cluster.spec
  return {
    brokerNodeGroupInfo: spec.brokerNodeGroupInfo,
    rebalancing: spec.rebalancing,
    currentBrokerSoftwareInfo: brokerSoftwareInfo(spec),
    clientAuthentication: spec.clientAuthentication,
    encryptionInfo: spec.encryptionInfo,
    enhancedMonitoring: spec.enhancedMonitoring,
    openMonitoring: spec.openMonitoring,
    loggingInfo: spec.loggingInfo,
    numberOfBrokerNodes: spec.numberOfBrokerNodes,
    zookeeperConnectString: cluster.runtime?.zookeeper?.connect,
    storageMode: spec.storageMode,
  }
}

/** The members ClusterInfo (V1) and Cluster (V2) share. */
function commonMembers(cluster: ClusterRecord): Record<string, unknown> {
  return {
    activeOperationArn: cluster.activeOperationArn ?? undefined,
    clusterArn: cluster.arn,
    clusterName: cluster.name,
    creationTime: cluster.creationTime,
    currentVersion: cluster.currentVersion,
    state: cluster.state,
    stateInfo: stateInfo(cluster),
    tags: cluster.tags,
  }
}

/** DescribeCluster's and ListClusters' ClusterInfo. */
export function clusterInfo(cluster: ClusterRecord): Record<string, unknown> {
  return { ...commonMembers(cluster), ...provisionedMembers(cluster) }
}

/** DescribeClusterV2's and ListClustersV2' Cluster. */
export function clusterV2(cluster: ClusterRecord): Record<string, unknown> {
  const common = { ...commonMembers(cluster), clusterType: cluster.type }
  if (cluster.type === 'SERVERLESS') {
    const serverless = cluster.spec.serverless
    return { ...common, serverless: { vpcConfigs: serverless?.vpcConfigs ?? [], clientAuthentication: serverless?.clientAuthentication } }
  }
  return { ...common, provisioned: provisionedMembers(cluster) }
}

/** Which parts of brokerNodeGroupInfo an operation type changes (its target carries the whole group). */
const GROUP_MEMBERS_SHOWN: Partial<Record<OperationType, Array<'instanceType' | 'connectivityInfo' | 'storage'>>> = {
  CREATE: ['instanceType', 'connectivityInfo', 'storage'],
  UPDATE_BROKER_TYPE: ['instanceType'],
  UPDATE_CONNECTIVITY: ['connectivityInfo'],
  UPDATE_BROKER_STORAGE: ['storage'],
  UPDATE_STORAGE: ['storage'],
  AUTO_SCALE_STORAGE: ['storage'],
}

/** MSK's MutableClusterInfo for an operation's source or target spec. */
export function mutableClusterInfo(
  type: OperationType,
  spec: Partial<ClusterSpec> | null,
  extra: Record<string, unknown> = {},
): Record<string, unknown> | undefined {
  if (spec === null) return undefined
  const out: Record<string, unknown> = {
    numberOfBrokerNodes: spec.numberOfBrokerNodes,
    configurationInfo: spec.configurationInfo,
    kafkaVersion: spec.kafkaVersion,
    enhancedMonitoring: spec.enhancedMonitoring,
    openMonitoring: spec.openMonitoring,
    loggingInfo: spec.loggingInfo,
    clientAuthentication: spec.clientAuthentication,
    encryptionInfo: spec.encryptionInfo,
    storageMode: spec.storageMode,
    rebalancing: spec.rebalancing,
    ...extra,
  }
  const group = spec.brokerNodeGroupInfo
  const shown = GROUP_MEMBERS_SHOWN[type] ?? []
  if (group !== undefined && shown.includes('instanceType')) out.instanceType = group.instanceType
  if (group !== undefined && shown.includes('connectivityInfo')) out.connectivityInfo = group.connectivityInfo
  if (shown.includes('storage')) {
    const ebs = group?.storageInfo?.ebsStorageInfo
    const volumes: Array<Record<string, unknown>> = []
    if (ebs !== undefined) {
      volumes.push({ kafkaBrokerNodeId: 'ALL', volumeSizeGB: ebs.volumeSize, provisionedThroughput: ebs.provisionedThroughput })
    }
    for (const [id, size] of Object.entries(spec.brokerVolumeSizeGiB ?? {})) {
      volumes.push({ kafkaBrokerNodeId: id, volumeSizeGB: size })
    }
    if (volumes.length > 0) out.brokerEBSVolumeInfo = volumes
  }
  return out
}

function steps(op: OperationRecord): Array<Record<string, unknown>> {
  return op.steps.map((s) => ({ stepName: s.stepName, stepInfo: { stepStatus: s.stepStatus } }))
}

function targetExtra(op: OperationRecord): Record<string, unknown> {
  return op.params.zookeeperAccess === undefined ? {} : { zookeeperAccess: op.params.zookeeperAccess }
}

/** DescribeClusterOperation's and ListClusterOperations' ClusterOperationInfo. */
export function clusterOperationInfo(op: OperationRecord): Record<string, unknown> {
  return {
    clientRequestId: op.clientRequestId ?? undefined,
    clusterArn: op.clusterArn,
    creationTime: op.creationTime,
    endTime: op.endTime ?? undefined,
    errorInfo: op.errorInfo ?? undefined,
    operationArn: op.arn,
    operationState: op.state,
    operationSteps: steps(op),
    operationType: op.type,
    sourceClusterInfo: mutableClusterInfo(op.type, op.sourceClusterInfo),
    targetClusterInfo: mutableClusterInfo(op.type, op.targetClusterInfo, targetExtra(op)),
  }
}

/** ListClusterOperationsV2's ClusterOperationV2Summary. */
export function clusterOperationV2Summary(op: OperationRecord): Record<string, unknown> {
  return {
    clusterArn: op.clusterArn,
    clusterType: op.clusterType,
    startTime: op.creationTime,
    endTime: op.endTime ?? undefined,
    operationArn: op.arn,
    operationState: op.state,
    operationType: op.type,
  }
}

/** DescribeClusterOperationV2's ClusterOperationV2. */
export function clusterOperationV2(op: OperationRecord): Record<string, unknown> {
  const summary = { ...clusterOperationV2Summary(op), errorInfo: op.errorInfo ?? undefined }
  if (op.clusterType === 'SERVERLESS') return { ...summary, serverless: {} }
  return {
    ...summary,
    provisioned: {
      operationSteps: steps(op),
      sourceClusterInfo: mutableClusterInfo(op.type, op.sourceClusterInfo),
      targetClusterInfo: mutableClusterInfo(op.type, op.targetClusterInfo, targetExtra(op)),
    },
  }
}

/** ListNodes' NodeInfo for one broker of the cluster's runtime. */
export function nodeInfo(cluster: ClusterRecord, broker: BrokerRuntime): Record<string, unknown> {
  return {
    addedToClusterTime: broker.addedTime,
    brokerNodeInfo: {
      brokerId: broker.id,
      clientSubnet: broker.clientSubnet,
      clientVpcIpAddress: broker.host,
      currentBrokerSoftwareInfo: brokerSoftwareInfo(cluster.spec),
      endpoints: [broker.host],
    },
    instanceType: cluster.spec.brokerNodeGroupInfo.instanceType,
    nodeARN: nodeArn(cluster.arn, broker.id),
    nodeType: 'BROKER',
  }
}

export function configurationRevision(r: ConfigurationRevision): Record<string, unknown> {
  return { creationTime: r.creationTime, description: r.description, revision: r.revision }
}

export function latestRevision(c: ConfigurationRecord): ConfigurationRevision {
  const last = c.revisions[c.revisions.length - 1]
  if (last === undefined) throw new Error(`configuration ${c.arn} has no revision`)
  return last
}

/** ListConfigurations' Configuration, also DescribeConfiguration's answer. */
export function configuration(c: ConfigurationRecord): Record<string, unknown> {
  return {
    arn: c.arn,
    creationTime: c.creationTime,
    description: c.description,
    kafkaVersions: c.kafkaVersions,
    latestRevision: configurationRevision(latestRevision(c)),
    name: c.name,
    state: c.state,
  }
}
