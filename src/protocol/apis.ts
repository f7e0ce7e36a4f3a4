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
} as const

export type ApiName = keyof typeof Apis

export const apiByKey: ReadonlyMap<number, Api> = new Map(Object.values(Apis).map((a) => [a.key, a as unknown as Api]))
