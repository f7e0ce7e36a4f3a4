// ElectLeaders: triggers preferred or unclean leader election for partitions.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const ElectLeadersRequest = message({
  name: 'ElectLeadersRequest',
  apiKey: 43,
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: {
    electionType: field(t.int8, { v: '1+' }),
    topicPartitions: arrayField({
      topic: field(t.string),
      partitions: field(t.array(t.int32)),
    }, { nullable: '0+', default: [] }),
    timeoutMs: field(t.int32, { default: 60000 }),
  },
})

export const ElectLeadersResponse = message({
  name: 'ElectLeadersResponse',
  apiKey: 43,
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: {
    throttleTimeMs: field(t.int32),
    errorCode: field(t.int16, { v: '1+' }),
    replicaElectionResults: arrayField({
      topic: field(t.string),
      partitionResult: arrayField({
        partitionId: field(t.int32),
        errorCode: field(t.int16),
        errorMessage: field(t.string, { nullable: '0+', default: '' }),
      }),
    }),
  },
})

export type ElectLeadersRequestData = DecodedOf<typeof ElectLeadersRequest>
export type ElectLeadersRequestInput = InputOf<typeof ElectLeadersRequest>
export type ElectLeadersResponseData = DecodedOf<typeof ElectLeadersResponse>
export type ElectLeadersResponseInput = InputOf<typeof ElectLeadersResponse>
