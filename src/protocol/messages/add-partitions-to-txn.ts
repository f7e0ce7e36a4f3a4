// AddPartitionsToTxn: a transactional producer adds partitions to its transaction (v4+ batched for brokers).

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

const addPartitionsToTxnTopicFields = {
  name: field(t.string),
  partitions: field(t.array(t.int32)),
}

export const AddPartitionsToTxnRequest = message({
  name: 'AddPartitionsToTxnRequest',
  apiKey: 24,
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: {
    transactions: arrayField({
      transactionalId: field(t.string, { v: '4+' }),
      producerId: field(t.int64, { v: '4+' }),
      producerEpoch: field(t.int16, { v: '4+' }),
      verifyOnly: field(t.bool, { v: '4+' }),
      topics: arrayField(addPartitionsToTxnTopicFields, { v: '4+' }),
    }, { v: '4+' }),
    v3AndBelowTransactionalId: field(t.string, { v: '0-3' }),
    v3AndBelowProducerId: field(t.int64, { v: '0-3' }),
    v3AndBelowProducerEpoch: field(t.int16, { v: '0-3' }),
    v3AndBelowTopics: arrayField(addPartitionsToTxnTopicFields, { v: '0-3' }),
  },
})

const addPartitionsToTxnPartitionResultFields = {
  partitionIndex: field(t.int32),
  partitionErrorCode: field(t.int16),
}

const addPartitionsToTxnTopicResultFields = {
  name: field(t.string),
  resultsByPartition: arrayField(addPartitionsToTxnPartitionResultFields),
}

export const AddPartitionsToTxnResponse = message({
  name: 'AddPartitionsToTxnResponse',
  apiKey: 24,
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: {
    throttleTimeMs: field(t.int32),
    errorCode: field(t.int16, { v: '4+' }),
    resultsByTransaction: arrayField({
      transactionalId: field(t.string, { v: '4+' }),
      topicResults: arrayField(addPartitionsToTxnTopicResultFields, { v: '4+' }),
    }, { v: '4+' }),
    resultsByTopicV3AndBelow: arrayField(addPartitionsToTxnTopicResultFields, { v: '0-3' }),
  },
})

export type AddPartitionsToTxnRequestData = DecodedOf<typeof AddPartitionsToTxnRequest>
export type AddPartitionsToTxnRequestInput = InputOf<typeof AddPartitionsToTxnRequest>
export type AddPartitionsToTxnResponseData = DecodedOf<typeof AddPartitionsToTxnResponse>
export type AddPartitionsToTxnResponseInput = InputOf<typeof AddPartitionsToTxnResponse>
