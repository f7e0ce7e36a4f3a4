// Fetch: consumers and followers read record batches from partitions.

import { arrayField, field, message, structField, t, type DecodedOf, type InputOf } from '../schema.js'

export const FetchRequest = message({
  name: 'FetchRequest',
  apiKey: 1,
  validVersions: '0-17',
  flexibleVersions: '12+',
  fields: {
    clusterId: field(t.string, { v: '12+', nullable: '12+', tagged: '12+', tag: 0 }),
    replicaId: field(t.int32, { v: '0-14', default: -1 }),
    replicaState: structField({
      replicaId: field(t.int32, { v: '15+', default: -1 }),
      replicaEpoch: field(t.int64, { v: '15+', default: -1 }),
    }, { v: '15+', tagged: '15+', tag: 1 }),
    maxWaitMs: field(t.int32),
    minBytes: field(t.int32),
    maxBytes: field(t.int32, { v: '3+', default: 2147483647 }),
    isolationLevel: field(t.int8, { v: '4+' }),
    sessionId: field(t.int32, { v: '7+' }),
    sessionEpoch: field(t.int32, { v: '7+', default: -1 }),
    topics: arrayField({
      topic: field(t.string, { v: '0-12' }),
      topicId: field(t.uuid, { v: '13+' }),
      partitions: arrayField({
        partition: field(t.int32),
        currentLeaderEpoch: field(t.int32, { v: '9+', default: -1 }),
        fetchOffset: field(t.int64),
        lastFetchedEpoch: field(t.int32, { v: '12+', default: -1 }),
        logStartOffset: field(t.int64, { v: '5+', default: -1 }),
        partitionMaxBytes: field(t.int32),
        replicaDirectoryId: field(t.uuid, { v: '17+', tagged: '17+', tag: 0 }),
      }),
    }),
    forgottenTopicsData: arrayField({
      topic: field(t.string, { v: '7-12' }),
      topicId: field(t.uuid, { v: '13+' }),
      partitions: field(t.array(t.int32), { v: '7+' }),
    }, { v: '7+' }),
    rackId: field(t.string, { v: '11+' }),
  },
})

export const FetchResponse = message({
  name: 'FetchResponse',
  apiKey: 1,
  validVersions: '0-17',
  flexibleVersions: '12+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '1+' }),
    errorCode: field(t.int16, { v: '7+' }),
    sessionId: field(t.int32, { v: '7+' }),
    responses: arrayField({
      topic: field(t.string, { v: '0-12' }),
      topicId: field(t.uuid, { v: '13+' }),
      partitions: arrayField({
        partitionIndex: field(t.int32),
        errorCode: field(t.int16),
        highWatermark: field(t.int64),
        lastStableOffset: field(t.int64, { v: '4+', default: -1 }),
        logStartOffset: field(t.int64, { v: '5+', default: -1 }),
        divergingEpoch: structField({
          epoch: field(t.int32, { v: '12+', default: -1 }),
          endOffset: field(t.int64, { v: '12+', default: -1 }),
        }, { v: '12+', tagged: '12+', tag: 0 }),
        currentLeader: structField({
          leaderId: field(t.int32, { v: '12+', default: -1 }),
          leaderEpoch: field(t.int32, { v: '12+', default: -1 }),
        }, { v: '12+', tagged: '12+', tag: 1 }),
        snapshotId: structField({
          endOffset: field(t.int64, { default: -1 }),
          epoch: field(t.int32, { default: -1 }),
        }, { v: '12+', tagged: '12+', tag: 2 }),
        abortedTransactions: arrayField({
          producerId: field(t.int64, { v: '4+' }),
          firstOffset: field(t.int64, { v: '4+' }),
        }, { v: '4+', nullable: '4+', default: [] }),
        preferredReadReplica: field(t.int32, { v: '11+', default: -1 }),
        records: field(t.records, { nullable: '0+' }),
      }),
    }),
    nodeEndpoints: arrayField({
      nodeId: field(t.int32, { v: '16+' }),
      host: field(t.string, { v: '16+' }),
      port: field(t.int32, { v: '16+' }),
      rack: field(t.string, { v: '16+', nullable: '16+' }),
    }, { v: '16+', tagged: '16+', tag: 0 }),
  },
})

export type FetchRequestData = DecodedOf<typeof FetchRequest>
export type FetchRequestInput = InputOf<typeof FetchRequest>
export type FetchResponseData = DecodedOf<typeof FetchResponse>
export type FetchResponseInput = InputOf<typeof FetchResponse>
