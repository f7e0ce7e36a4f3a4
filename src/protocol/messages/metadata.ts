// Metadata: brokers, topics, partitions and their leaders.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const MetadataRequest = message({
  name: 'MetadataRequest',
  apiKey: 3,
  validVersions: '0-12',
  flexibleVersions: '9+',
  fields: {
    topics: arrayField({
      topicId: field(t.uuid, { v: '10+' }),
      name: field(t.string, { nullable: '10+', default: '' }),
    }, { nullable: '1+', default: [] }),
    allowAutoTopicCreation: field(t.bool, { v: '4+', default: true }),
    includeClusterAuthorizedOperations: field(t.bool, { v: '8-10' }),
    includeTopicAuthorizedOperations: field(t.bool, { v: '8+' }),
  },
})

export const MetadataResponse = message({
  name: 'MetadataResponse',
  apiKey: 3,
  validVersions: '0-12',
  flexibleVersions: '9+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '3+' }),
    brokers: arrayField({
      nodeId: field(t.int32),
      host: field(t.string),
      port: field(t.int32),
      rack: field(t.string, { v: '1+', nullable: '1+' }),
    }),
    clusterId: field(t.string, { v: '2+', nullable: '2+' }),
    controllerId: field(t.int32, { v: '1+', default: -1 }),
    topics: arrayField({
      errorCode: field(t.int16),
      name: field(t.string, { nullable: '12+', default: '' }),
      topicId: field(t.uuid, { v: '10+' }),
      isInternal: field(t.bool, { v: '1+' }),
      partitions: arrayField({
        errorCode: field(t.int16),
        partitionIndex: field(t.int32),
        leaderId: field(t.int32),
        leaderEpoch: field(t.int32, { v: '7+', default: -1 }),
        replicaNodes: field(t.array(t.int32)),
        isrNodes: field(t.array(t.int32)),
        offlineReplicas: field(t.array(t.int32), { v: '5+' }),
      }),
      topicAuthorizedOperations: field(t.int32, { v: '8+', default: -2147483648 }),
    }),
    clusterAuthorizedOperations: field(t.int32, { v: '8-10', default: -2147483648 }),
  },
})

export type MetadataRequestData = DecodedOf<typeof MetadataRequest>
export type MetadataRequestInput = InputOf<typeof MetadataRequest>
export type MetadataResponseData = DecodedOf<typeof MetadataResponse>
export type MetadataResponseInput = InputOf<typeof MetadataResponse>
