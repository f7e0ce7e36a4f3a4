// AlterPartitionReassignments: starts or cancels moving partition replicas.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const AlterPartitionReassignmentsRequest = message({
  name: 'AlterPartitionReassignmentsRequest',
  apiKey: 45,
  validVersions: '0',
  flexibleVersions: '0+',
  fields: {
    timeoutMs: field(t.int32, { default: 60000 }),
    topics: arrayField({
      name: field(t.string),
      partitions: arrayField({
        partitionIndex: field(t.int32),
        replicas: field(t.array(t.int32), { nullable: '0+' }),
      }),
    }),
  },
})

export const AlterPartitionReassignmentsResponse = message({
  name: 'AlterPartitionReassignmentsResponse',
  apiKey: 45,
  validVersions: '0',
  flexibleVersions: '0+',
  fields: {
    throttleTimeMs: field(t.int32),
    errorCode: field(t.int16),
    errorMessage: field(t.string, { nullable: '0+', default: '' }),
    responses: arrayField({
      name: field(t.string),
      partitions: arrayField({
        partitionIndex: field(t.int32),
        errorCode: field(t.int16),
        errorMessage: field(t.string, { nullable: '0+', default: '' }),
      }),
    }),
  },
})

export type AlterPartitionReassignmentsRequestData = DecodedOf<typeof AlterPartitionReassignmentsRequest>
export type AlterPartitionReassignmentsRequestInput = InputOf<typeof AlterPartitionReassignmentsRequest>
export type AlterPartitionReassignmentsResponseData = DecodedOf<typeof AlterPartitionReassignmentsResponse>
export type AlterPartitionReassignmentsResponseInput = InputOf<typeof AlterPartitionReassignmentsResponse>
