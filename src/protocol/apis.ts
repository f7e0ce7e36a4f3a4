// The table of every API this codebase declares: key, name and its request/response messages.
// The broker's handler registry and the round-trip tests both read from here.

import type { Fields, Message } from './schema.js'
import { ApiVersionsRequest, ApiVersionsResponse } from './messages/api-versions.js'
import { ProduceRequest, ProduceResponse } from './messages/produce.js'
import { FetchRequest, FetchResponse } from './messages/fetch.js'
import { ListOffsetsRequest, ListOffsetsResponse } from './messages/list-offsets.js'
import { MetadataRequest, MetadataResponse } from './messages/metadata.js'
import { CreateTopicsRequest, CreateTopicsResponse } from './messages/create-topics.js'
import { DeleteTopicsRequest, DeleteTopicsResponse } from './messages/delete-topics.js'
import { CreatePartitionsRequest, CreatePartitionsResponse } from './messages/create-partitions.js'
import { DescribeConfigsRequest, DescribeConfigsResponse } from './messages/describe-configs.js'
import { AlterConfigsRequest, AlterConfigsResponse } from './messages/alter-configs.js'
import { IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from './messages/incremental-alter-configs.js'
import { DeleteRecordsRequest, DeleteRecordsResponse } from './messages/delete-records.js'
import { OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from './messages/offset-for-leader-epoch.js'
import { DescribeClusterRequest, DescribeClusterResponse } from './messages/describe-cluster.js'
import { DescribeLogDirsRequest, DescribeLogDirsResponse } from './messages/describe-log-dirs.js'
import { SaslHandshakeRequest, SaslHandshakeResponse } from './messages/sasl-handshake.js'
import { InitProducerIdRequest, InitProducerIdResponse } from './messages/init-producer-id.js'
import { FindCoordinatorRequest, FindCoordinatorResponse } from './messages/find-coordinator.js'
import { JoinGroupRequest, JoinGroupResponse } from './messages/join-group.js'
import { HeartbeatRequest, HeartbeatResponse } from './messages/heartbeat.js'
import { LeaveGroupRequest, LeaveGroupResponse } from './messages/leave-group.js'
import { SyncGroupRequest, SyncGroupResponse } from './messages/sync-group.js'
import { DescribeGroupsRequest, DescribeGroupsResponse } from './messages/describe-groups.js'
import { ListGroupsRequest, ListGroupsResponse } from './messages/list-groups.js'
import { OffsetCommitRequest, OffsetCommitResponse } from './messages/offset-commit.js'
import { OffsetFetchRequest, OffsetFetchResponse } from './messages/offset-fetch.js'
import { DeleteGroupsRequest, DeleteGroupsResponse } from './messages/delete-groups.js'
import { OffsetDeleteRequest, OffsetDeleteResponse } from './messages/offset-delete.js'
import { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse } from './messages/consumer-group-heartbeat.js'
import { ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse } from './messages/consumer-group-describe.js'
import { AddPartitionsToTxnRequest, AddPartitionsToTxnResponse } from './messages/add-partitions-to-txn.js'
import { AddOffsetsToTxnRequest, AddOffsetsToTxnResponse } from './messages/add-offsets-to-txn.js'
import { EndTxnRequest, EndTxnResponse } from './messages/end-txn.js'
import { WriteTxnMarkersRequest, WriteTxnMarkersResponse } from './messages/write-txn-markers.js'
import { TxnOffsetCommitRequest, TxnOffsetCommitResponse } from './messages/txn-offset-commit.js'
import { DescribeProducersRequest, DescribeProducersResponse } from './messages/describe-producers.js'
import { DescribeTransactionsRequest, DescribeTransactionsResponse } from './messages/describe-transactions.js'
import { ListTransactionsRequest, ListTransactionsResponse } from './messages/list-transactions.js'
import { ElectLeadersRequest, ElectLeadersResponse } from './messages/elect-leaders.js'
import { AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse } from './messages/alter-partition-reassignments.js'
import { ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse } from './messages/list-partition-reassignments.js'
import { SaslAuthenticateRequest, SaslAuthenticateResponse } from './messages/sasl-authenticate.js'

export interface Api<Q extends Fields = Fields, S extends Fields = Fields> {
  key: number
  name: string
  request: Message<Q>
  response: Message<S>
}

function api<Q extends Fields, S extends Fields>(name: string, request: Message<Q>, response: Message<S>): Api<Q, S> {
  if (request.apiKey !== response.apiKey) throw new Error(`${name}: request and response keys differ`)
  return { key: request.apiKey, name, request, response }
}

export const Apis = {
  ApiVersions: api('ApiVersions', ApiVersionsRequest, ApiVersionsResponse),
  Produce: api('Produce', ProduceRequest, ProduceResponse),
  Fetch: api('Fetch', FetchRequest, FetchResponse),
  ListOffsets: api('ListOffsets', ListOffsetsRequest, ListOffsetsResponse),
  Metadata: api('Metadata', MetadataRequest, MetadataResponse),
  CreateTopics: api('CreateTopics', CreateTopicsRequest, CreateTopicsResponse),
  DeleteTopics: api('DeleteTopics', DeleteTopicsRequest, DeleteTopicsResponse),
  CreatePartitions: api('CreatePartitions', CreatePartitionsRequest, CreatePartitionsResponse),
  DescribeConfigs: api('DescribeConfigs', DescribeConfigsRequest, DescribeConfigsResponse),
  AlterConfigs: api('AlterConfigs', AlterConfigsRequest, AlterConfigsResponse),
  IncrementalAlterConfigs: api('IncrementalAlterConfigs', IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse),
  DeleteRecords: api('DeleteRecords', DeleteRecordsRequest, DeleteRecordsResponse),
  OffsetForLeaderEpoch: api('OffsetForLeaderEpoch', OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse),
  DescribeCluster: api('DescribeCluster', DescribeClusterRequest, DescribeClusterResponse),
  DescribeLogDirs: api('DescribeLogDirs', DescribeLogDirsRequest, DescribeLogDirsResponse),
  SaslHandshake: api('SaslHandshake', SaslHandshakeRequest, SaslHandshakeResponse),
  InitProducerId: api('InitProducerId', InitProducerIdRequest, InitProducerIdResponse),
  FindCoordinator: api('FindCoordinator', FindCoordinatorRequest, FindCoordinatorResponse),
  JoinGroup: api('JoinGroup', JoinGroupRequest, JoinGroupResponse),
  Heartbeat: api('Heartbeat', HeartbeatRequest, HeartbeatResponse),
  LeaveGroup: api('LeaveGroup', LeaveGroupRequest, LeaveGroupResponse),
  SyncGroup: api('SyncGroup', SyncGroupRequest, SyncGroupResponse),
  DescribeGroups: api('DescribeGroups', DescribeGroupsRequest, DescribeGroupsResponse),
  ListGroups: api('ListGroups', ListGroupsRequest, ListGroupsResponse),
  OffsetCommit: api('OffsetCommit', OffsetCommitRequest, OffsetCommitResponse),
  OffsetFetch: api('OffsetFetch', OffsetFetchRequest, OffsetFetchResponse),
  DeleteGroups: api('DeleteGroups', DeleteGroupsRequest, DeleteGroupsResponse),
  OffsetDelete: api('OffsetDelete', OffsetDeleteRequest, OffsetDeleteResponse),
  ConsumerGroupHeartbeat: api('ConsumerGroupHeartbeat', ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse),
  ConsumerGroupDescribe: api('ConsumerGroupDescribe', ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse),
  AddPartitionsToTxn: api('AddPartitionsToTxn', AddPartitionsToTxnRequest, AddPartitionsToTxnResponse),
  AddOffsetsToTxn: api('AddOffsetsToTxn', AddOffsetsToTxnRequest, AddOffsetsToTxnResponse),
  EndTxn: api('EndTxn', EndTxnRequest, EndTxnResponse),
  WriteTxnMarkers: api('WriteTxnMarkers', WriteTxnMarkersRequest, WriteTxnMarkersResponse),
  TxnOffsetCommit: api('TxnOffsetCommit', TxnOffsetCommitRequest, TxnOffsetCommitResponse),
  DescribeProducers: api('DescribeProducers', DescribeProducersRequest, DescribeProducersResponse),
  DescribeTransactions: api('DescribeTransactions', DescribeTransactionsRequest, DescribeTransactionsResponse),
  ListTransactions: api('ListTransactions', ListTransactionsRequest, ListTransactionsResponse),
  ElectLeaders: api('ElectLeaders', ElectLeadersRequest, ElectLeadersResponse),
  AlterPartitionReassignments: api('AlterPartitionReassignments', AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse),
  ListPartitionReassignments: api('ListPartitionReassignments', ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse),
  SaslAuthenticate: api('SaslAuthenticate', SaslAuthenticateRequest, SaslAuthenticateResponse),
} as const

export type ApiName = keyof typeof Apis

export const apiByKey: ReadonlyMap<number, Api> = new Map(Object.values(Apis).map((a) => [a.key, a as unknown as Api]))
