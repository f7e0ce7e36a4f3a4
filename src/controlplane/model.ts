// The control plane's records: what the MSK API promises (a cluster's desired shape, its state and
// version, its operations, configurations, tags, SCRAM secret associations) and what the
// reconciler knows about the processes behind a cluster. They are stored as rows (store.ts) and
// turned into MSK's wire shapes by the API layer (api/). Member names follow MSK's camelCase so a
// record reads like the API that produced it.

import type { ZooKeeperRuntime } from './zookeeper.js'

export type ClusterState = 'ACTIVE' | 'CREATING' | 'DELETING' | 'FAILED' | 'HEALING' | 'MAINTENANCE' | 'REBOOTING_BROKER' | 'UPDATING'
export type ClusterType = 'PROVISIONED' | 'SERVERLESS'

/** MSK's operation states (ClusterOperationInfo.operationState). */
export type OperationState = 'PENDING' | 'UPDATE_IN_PROGRESS' | 'UPDATE_COMPLETE' | 'UPDATE_FAILED'

/** MSK's operation types (ClusterOperationInfo.operationType). */
export type OperationType =
  | 'CREATE'
  | 'DELETE'
  | 'UPDATE_BROKER_COUNT'
  | 'UPDATE_BROKER_STORAGE'
  | 'UPDATE_STORAGE'
  | 'UPDATE_BROKER_TYPE'
  | 'UPDATE_CLUSTER_CONFIGURATION'
  | 'UPDATE_CLUSTER_KAFKA_VERSION'
  | 'REBOOT_NODE'
  | 'UPDATE_MONITORING'
  | 'UPDATE_SECURITY'
  | 'UPDATE_CONNECTIVITY'
  | 'UPDATE_REBALANCING'
  | 'HEAL'
  | 'AUTO_SCALE_STORAGE'

export type StepStatus = 'PENDING' | 'IN_PROGRESS' | 'COMPLETE' | 'FAILED'

export interface OperationStep {
  stepName: string
  stepStatus: StepStatus
}

/** MSK's BrokerNodeGroupInfo, as received (camelCase); storageInfo.ebsStorageInfo.volumeSize in GiB. */
export interface BrokerNodeGroupInfo {
  clientSubnets: string[]
  instanceType: string
  securityGroups?: string[]
  brokerAZDistribution?: string
  storageInfo?: { ebsStorageInfo?: { volumeSize?: number; provisionedThroughput?: { enabled?: boolean; volumeThroughput?: number } } }
  connectivityInfo?: Record<string, unknown>
  zoneIds?: string[]
}

/**
 * The part of a cluster that Update* operations change: MSK's MutableClusterInfo plus what
 * CreateCluster fixes. What DescribeCluster reports comes from here.
 */
export interface ClusterSpec {
  numberOfBrokerNodes: number
  brokerNodeGroupInfo: BrokerNodeGroupInfo
  kafkaVersion: string
  /** Volume size per broker id (GiB) where UpdateBrokerStorage set one broker apart; otherwise storageInfo's. */
  brokerVolumeSizeGiB?: Record<string, number>
  configurationInfo?: { arn: string; revision: number }
  clientAuthentication?: Record<string, unknown>
  encryptionInfo?: Record<string, unknown>
  enhancedMonitoring: string
  openMonitoring?: Record<string, unknown>
  loggingInfo?: Record<string, unknown>
  storageMode: 'LOCAL' | 'TIERED'
  rebalancing?: { status?: string }
  /** Serverless clusters: their vpcConfigs and client authentication (sizing is ours: 3 brokers over 3 zones). */
  serverless?: { vpcConfigs: Array<{ subnetIds: string[]; securityGroupIds?: string[] }>; clientAuthentication?: Record<string, unknown> }
  /** Fjord: storage auto-scaling (MSK does this through Application Auto Scaling). */
  storageAutoScaling?: { targetUtilization: number; maxVolumeSizeGiB: number; cooldownSeconds: number }
}

/** One broker process as the reconciler provisioned it. */
export interface BrokerRuntime {
  id: number
  zone: string
  /** The client subnet its zone stands for. */
  clientSubnet: string
  host: string
  port: number
  dataDir: string
  volumeSizeBytes: number
  /** Last measured bytes in its log dir, and when. */
  usedBytes: number | null
  usedAt: string | null
  addedTime: string
}

/** What runs for a cluster. Written by the reconciler only. */
export interface ClusterRuntime {
  /** Everything of this cluster lives under it (the LocalCluster data dir, ZooKeeper's dir). */
  dataDir: string
  metadataMode: 'embedded' | 'zookeeper'
  /** Set when the control plane runs a ZooKeeper ensemble for the cluster. */
  zookeeper: ZooKeeperRuntime | null
  /** Why the cluster does not run as its version asks (e.g. no ZooKeeper installed), shown in stateInfo. */
  notice: string | null
  brokers: BrokerRuntime[]
  /** Last storage auto-scaling step (ISO time). */
  lastAutoScaleAt: string | null
}

export interface ClusterRecord {
  arn: string
  name: string
  uuid: string
  type: ClusterType
  region: string
  account: string
  creationTime: string
  state: ClusterState
  stateInfo: { code: string; message: string } | null
  /** Opaque; changes with every accepted update. Update* bodies must carry the current one. */
  currentVersion: string
  activeOperationArn: string | null
  tags: Record<string, string>
  spec: ClusterSpec
  runtime: ClusterRuntime | null
}

export interface OperationRecord {
  arn: string
  clusterArn: string
  clusterType: ClusterType
  type: OperationType
  state: OperationState
  creationTime: string
  endTime: string | null
  errorInfo: { errorCode: string; errorString: string } | null
  /** The spec before and the spec asked for (MSK's sourceClusterInfo / targetClusterInfo). */
  sourceClusterInfo: Partial<ClusterSpec> | null
  targetClusterInfo: Partial<ClusterSpec> | null
  steps: OperationStep[]
  /** Operation input the spec does not carry (RebootBroker's brokerIds, …). */
  params: Record<string, unknown>
  clientRequestId: string | null
}

export interface ConfigurationRevision {
  revision: number
  description: string
  creationTime: string
  /** The server.properties text (the API carries it base64-encoded). */
  serverProperties: string
}

export interface ConfigurationRecord {
  arn: string
  name: string
  description: string
  kafkaVersions: string[]
  creationTime: string
  state: 'ACTIVE' | 'DELETING' | 'DELETE_FAILED'
  revisions: ConfigurationRevision[]
}

/** A cluster's resource policy (PutClusterPolicy): stored and answered, not enforced. */
export interface ClusterPolicyRecord {
  clusterArn: string
  /** The policy document as the client sent it (a JSON text). */
  policy: string
  /** Opaque; changes with every Put. A Put carrying another one is refused. */
  currentVersion: string
  updatedTime: string
}

/**
 * Durable control-plane state. Every method is synchronous (SQLite through better-sqlite3) and
 * each write is atomic; `transaction` groups several.
 */
export interface ControlPlaneStore {
  transaction<T>(fn: () => T): T

  insertCluster(cluster: ClusterRecord): void
  getCluster(arn: string): ClusterRecord | undefined
  /** Ordered by creation time. */
  listClusters(): ClusterRecord[]
  /** Reads, lets `mutate` change the record, writes it back, in one transaction; returns the new record. Throws when missing. */
  updateCluster(arn: string, mutate: (cluster: ClusterRecord) => void): ClusterRecord
  deleteCluster(arn: string): void

  insertOperation(op: OperationRecord): void
  getOperation(arn: string): OperationRecord | undefined
  /** Newest first. */
  listOperations(clusterArn: string): OperationRecord[]
  /** Operations not yet finished (PENDING or UPDATE_IN_PROGRESS), oldest first. */
  unfinishedOperations(): OperationRecord[]
  updateOperation(arn: string, mutate: (op: OperationRecord) => void): OperationRecord

  insertConfiguration(config: ConfigurationRecord): void
  getConfiguration(arn: string): ConfigurationRecord | undefined
  listConfigurations(): ConfigurationRecord[]
  updateConfiguration(arn: string, mutate: (config: ConfigurationRecord) => void): ConfigurationRecord
  deleteConfiguration(arn: string): void

  /** Tags of any ARN (clusters keep theirs in ClusterRecord.tags too; this is for the others). */
  getTags(resourceArn: string): Record<string, string>
  setTags(resourceArn: string, tags: Record<string, string>): void

  listScramSecrets(clusterArn: string): string[]
  addScramSecrets(clusterArn: string, secretArns: string[]): void
  removeScramSecrets(clusterArn: string, secretArns: string[]): void

  getClusterPolicy(clusterArn: string): ClusterPolicyRecord | undefined
  /** Inserts or replaces the cluster's policy. */
  putClusterPolicy(policy: ClusterPolicyRecord): void
  /** Whether there was one to delete. */
  deleteClusterPolicy(clusterArn: string): boolean

  close(): void
}

/**
 * What the API layer asks of the reconciler. The API writes the operation row (PENDING) and the
 * cluster's new state in one transaction, then calls `wake`; the reconciler runs the operation,
 * records its steps, and puts the cluster back to ACTIVE (or FAILED, or deletes it).
 */
export interface OperationRunner {
  wake(clusterArn: string): void
}
