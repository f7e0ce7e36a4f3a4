// The route table: every MSK operation Fjord answers, its method and path, and its handler
// (topics and cluster policies included); the peripheral ones Fjord does not offer (replicators,
// channels, client VPC connections, VPC connections) answer 400 BadRequestException "… is not
// supported by Fjord". The server matches the RAW path segment by segment and percent-decodes
// parameters after.

import { badRequest } from '../errors.js'
import * as bootstrap from './bootstrap-brokers.js'
import * as operations from './cluster-operations.js'
import * as policies from './cluster-policies.js'
import * as clusters from './clusters.js'
import * as configurations from './configurations.js'
import type { Handler, Route } from './context.js'
import * as fjord from './fjord.js'
import * as versions from './kafka-versions.js'
import * as nodes from './nodes.js'
import * as scram from './scram-secrets.js'
import * as tags from './tags.js'
import * as topics from './topics.js'
import * as updates from './updates.js'

const SUPPORTED: Route[] = [
  { operation: 'CreateCluster', method: 'POST', path: '/v1/clusters', handler: clusters.createCluster },
  { operation: 'ListClusters', method: 'GET', path: '/v1/clusters', handler: clusters.listClusters },
  { operation: 'DescribeCluster', method: 'GET', path: '/v1/clusters/{clusterArn}', handler: clusters.describeCluster },
  { operation: 'DeleteCluster', method: 'DELETE', path: '/v1/clusters/{clusterArn}', handler: clusters.deleteCluster },
  { operation: 'CreateClusterV2', method: 'POST', path: '/api/v2/clusters', handler: clusters.createClusterV2 },
  { operation: 'ListClustersV2', method: 'GET', path: '/api/v2/clusters', handler: clusters.listClustersV2 },
  { operation: 'DescribeClusterV2', method: 'GET', path: '/api/v2/clusters/{clusterArn}', handler: clusters.describeClusterV2 },
  { operation: 'GetBootstrapBrokers', method: 'GET', path: '/v1/clusters/{clusterArn}/bootstrap-brokers', handler: bootstrap.getBootstrapBrokers },
  { operation: 'ListNodes', method: 'GET', path: '/v1/clusters/{clusterArn}/nodes', handler: nodes.listNodes },
  { operation: 'UpdateBrokerCount', method: 'PUT', path: '/v1/clusters/{clusterArn}/nodes/count', handler: updates.updateBrokerCount },
  { operation: 'UpdateBrokerStorage', method: 'PUT', path: '/v1/clusters/{clusterArn}/nodes/storage', handler: updates.updateBrokerStorage },
  { operation: 'UpdateBrokerType', method: 'PUT', path: '/v1/clusters/{clusterArn}/nodes/type', handler: updates.updateBrokerType },
  { operation: 'UpdateStorage', method: 'PUT', path: '/v1/clusters/{clusterArn}/storage', handler: updates.updateStorage },
  { operation: 'UpdateClusterConfiguration', method: 'PUT', path: '/v1/clusters/{clusterArn}/configuration', handler: updates.updateClusterConfiguration },
  { operation: 'UpdateClusterKafkaVersion', method: 'PUT', path: '/v1/clusters/{clusterArn}/version', handler: updates.updateClusterKafkaVersion },
  { operation: 'UpdateMonitoring', method: 'PUT', path: '/v1/clusters/{clusterArn}/monitoring', handler: updates.updateMonitoring },
  { operation: 'UpdateSecurity', method: 'PATCH', path: '/v1/clusters/{clusterArn}/security', handler: updates.updateSecurity },
  { operation: 'UpdateConnectivity', method: 'PUT', path: '/v1/clusters/{clusterArn}/connectivity', handler: updates.updateConnectivity },
  { operation: 'UpdateRebalancing', method: 'PUT', path: '/v1/clusters/{clusterArn}/rebalancing', handler: updates.updateRebalancing },
  { operation: 'RebootBroker', method: 'PUT', path: '/v1/clusters/{clusterArn}/reboot-broker', handler: updates.rebootBroker },
  { operation: 'ListClusterOperations', method: 'GET', path: '/v1/clusters/{clusterArn}/operations', handler: operations.listClusterOperations },
  { operation: 'ListClusterOperationsV2', method: 'GET', path: '/api/v2/clusters/{clusterArn}/operations', handler: operations.listClusterOperationsV2 },
  { operation: 'DescribeClusterOperation', method: 'GET', path: '/v1/operations/{clusterOperationArn}', handler: operations.describeClusterOperation },
  { operation: 'DescribeClusterOperationV2', method: 'GET', path: '/api/v2/operations/{clusterOperationArn}', handler: operations.describeClusterOperationV2 },
  { operation: 'ListKafkaVersions', method: 'GET', path: '/v1/kafka-versions', handler: versions.listKafkaVersions },
  { operation: 'GetCompatibleKafkaVersions', method: 'GET', path: '/v1/compatible-kafka-versions', handler: versions.getCompatibleKafkaVersions },
  { operation: 'CreateConfiguration', method: 'POST', path: '/v1/configurations', handler: configurations.createConfiguration },
  { operation: 'ListConfigurations', method: 'GET', path: '/v1/configurations', handler: configurations.listConfigurations },
  { operation: 'DescribeConfiguration', method: 'GET', path: '/v1/configurations/{arn}', handler: configurations.describeConfiguration },
  { operation: 'UpdateConfiguration', method: 'PUT', path: '/v1/configurations/{arn}', handler: configurations.updateConfiguration },
  { operation: 'DeleteConfiguration', method: 'DELETE', path: '/v1/configurations/{arn}', handler: configurations.deleteConfiguration },
  { operation: 'ListConfigurationRevisions', method: 'GET', path: '/v1/configurations/{arn}/revisions', handler: configurations.listConfigurationRevisions },
  { operation: 'DescribeConfigurationRevision', method: 'GET', path: '/v1/configurations/{arn}/revisions/{revision}', handler: configurations.describeConfigurationRevision },
  { operation: 'ListTagsForResource', method: 'GET', path: '/v1/tags/{resourceArn}', handler: tags.listTagsForResource },
  { operation: 'TagResource', method: 'POST', path: '/v1/tags/{resourceArn}', handler: tags.tagResource },
  { operation: 'UntagResource', method: 'DELETE', path: '/v1/tags/{resourceArn}', handler: tags.untagResource },
  { operation: 'BatchAssociateScramSecret', method: 'POST', path: '/v1/clusters/{clusterArn}/scram-secrets', handler: scram.batchAssociateScramSecret },
  { operation: 'BatchDisassociateScramSecret', method: 'PATCH', path: '/v1/clusters/{clusterArn}/scram-secrets', handler: scram.batchDisassociateScramSecret },
  { operation: 'ListScramSecrets', method: 'GET', path: '/v1/clusters/{clusterArn}/scram-secrets', handler: scram.listScramSecrets },
  { operation: 'ListTopics', method: 'GET', path: '/v1/clusters/{clusterArn}/topics', handler: topics.listTopics },
  { operation: 'CreateTopic', method: 'POST', path: '/v1/clusters/{clusterArn}/topics', handler: topics.createTopic },
  { operation: 'DescribeTopic', method: 'GET', path: '/v1/clusters/{clusterArn}/topics/{topicName}', handler: topics.describeTopic },
  { operation: 'UpdateTopic', method: 'PUT', path: '/v1/clusters/{clusterArn}/topics/{topicName}', handler: topics.updateTopic },
  { operation: 'DeleteTopic', method: 'DELETE', path: '/v1/clusters/{clusterArn}/topics/{topicName}', handler: topics.deleteTopic },
  { operation: 'DescribeTopicPartitions', method: 'GET', path: '/v1/clusters/{clusterArn}/topics/{topicName}/partitions', handler: topics.describeTopicPartitions },
  { operation: 'GetClusterPolicy', method: 'GET', path: '/v1/clusters/{clusterArn}/policy', handler: policies.getClusterPolicy },
  { operation: 'PutClusterPolicy', method: 'PUT', path: '/v1/clusters/{clusterArn}/policy', handler: policies.putClusterPolicy },
  { operation: 'DeleteClusterPolicy', method: 'DELETE', path: '/v1/clusters/{clusterArn}/policy', handler: policies.deleteClusterPolicy },
  // Fjord's extensions (fjord.ts).
  { operation: 'FjordGetStorageAutoScaling', method: 'GET', path: '/fjord/v1/clusters/{clusterArn}/storage-autoscaling', handler: fjord.getStorageAutoScaling },
  { operation: 'FjordPutStorageAutoScaling', method: 'PUT', path: '/fjord/v1/clusters/{clusterArn}/storage-autoscaling', handler: fjord.putStorageAutoScaling },
  { operation: 'FjordGetUsage', method: 'GET', path: '/fjord/v1/clusters/{clusterArn}/usage', handler: fjord.getUsage },
]

/** Replicators, channels, client VPC connections, VPC connections. */
const UNSUPPORTED: Array<[string, Route['method'], string]> = [
  ['CreateReplicator', 'POST', '/replication/v1/replicators'],
  ['ListReplicators', 'GET', '/replication/v1/replicators'],
  ['DeleteReplicator', 'DELETE', '/replication/v1/replicators/{replicatorArn}'],
  ['DescribeReplicator', 'GET', '/replication/v1/replicators/{replicatorArn}'],
  ['UpdateReplicationInfo', 'PUT', '/replication/v1/replicators/{replicatorArn}/replication-info'],
  ['CreateChannel', 'POST', '/v1/clusters/{clusterArn}/channels'],
  ['ListChannels', 'GET', '/v1/clusters/{clusterArn}/channels'],
  ['DeleteChannel', 'DELETE', '/v1/clusters/{clusterArn}/channels/{channelArn}'],
  ['DescribeChannel', 'GET', '/v1/clusters/{clusterArn}/channels/{channelArn}'],
  ['UpdateChannel', 'PUT', '/v1/clusters/{clusterArn}/channels/{channelArn}'],
  ['RejectClientVpcConnection', 'PUT', '/v1/clusters/{clusterArn}/client-vpc-connection'],
  ['ListClientVpcConnections', 'GET', '/v1/clusters/{clusterArn}/client-vpc-connections'],
  ['CreateVpcConnection', 'POST', '/v1/vpc-connection'],
  ['DeleteVpcConnection', 'DELETE', '/v1/vpc-connection/{arn}'],
  ['DescribeVpcConnection', 'GET', '/v1/vpc-connection/{arn}'],
  ['ListVpcConnections', 'GET', '/v1/vpc-connections'],
]

function unsupported(operation: string): Handler {
  return () => {
    throw badRequest(`${operation} is not supported by Fjord`)
  }
}

export const ROUTES: readonly Route[] = [
  ...SUPPORTED,
  ...UNSUPPORTED.map(([operation, method, path]) => ({ operation, method, path, handler: unsupported(operation) })),
]
