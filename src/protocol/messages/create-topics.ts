// CreateTopics: creates topics with a partition count, replication and configs.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const CreateTopicsRequest = message({
  name: 'CreateTopicsRequest',
  apiKey: 19,
  validVersions: '0-7',
  flexibleVersions: '5+',
  fields: {
    topics: arrayField({
      name: field(t.string),
      numPartitions: field(t.int32),
      replicationFactor: field(t.int16),
      assignments: arrayField({
        partitionIndex: field(t.int32),
        brokerIds: field(t.array(t.int32)),
      }),
      configs: arrayField({
        name: field(t.string),
        value: field(t.string, { nullable: '0+', default: '' }),
      }),
    }),
    timeoutMs: field(t.int32, { default: 60000 }),
    validateOnly: field(t.bool, { v: '1+' }),
  },
})

export const CreateTopicsResponse = message({
  name: 'CreateTopicsResponse',
  apiKey: 19,
  validVersions: '0-7',
  flexibleVersions: '5+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '2+' }),
    topics: arrayField({
      name: field(t.string),
      topicId: field(t.uuid, { v: '7+' }),
      errorCode: field(t.int16),
      errorMessage: field(t.string, { v: '1+', nullable: '0+', default: '' }),
      topicConfigErrorCode: field(t.int16, { v: '5+', tagged: '5+', tag: 0 }),
      numPartitions: field(t.int32, { v: '5+', default: -1 }),
      replicationFactor: field(t.int16, { v: '5+', default: -1 }),
      configs: arrayField({
        name: field(t.string, { v: '5+' }),
        value: field(t.string, { v: '5+', nullable: '5+', default: '' }),
        readOnly: field(t.bool, { v: '5+' }),
        configSource: field(t.int8, { v: '5+', default: -1 }),
        isSensitive: field(t.bool, { v: '5+' }),
      }, { v: '5+', nullable: '5+', default: [] }),
    }),
  },
})

export type CreateTopicsRequestData = DecodedOf<typeof CreateTopicsRequest>
export type CreateTopicsRequestInput = InputOf<typeof CreateTopicsRequest>
export type CreateTopicsResponseData = DecodedOf<typeof CreateTopicsResponse>
export type CreateTopicsResponseInput = InputOf<typeof CreateTopicsResponse>
