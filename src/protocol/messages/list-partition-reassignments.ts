// ListPartitionReassignments: the reassignments in progress.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const ListPartitionReassignmentsRequest = message({
  name: 'ListPartitionReassignmentsRequest',
  apiKey: 46,
  validVersions: '0',
  flexibleVersions: '0+',
  fields: {
    timeoutMs: field(t.int32, { default: 60000 }),
    topics: arrayField({
      name: field(t.string),
      partitionIndexes: field(t.array(t.int32)),
    }, { nullable: '0+' }),
  },
})

export const ListPartitionReassignmentsResponse = message({
  name: 'ListPartitionReassignmentsResponse',
  apiKey: 46,
  validVersions: '0',
  flexibleVersions: '0+',
  fields: {
    throttleTimeMs: field(t.int32),
    errorCode: field(t.int16),
    errorMessage: field(t.string, { nullable: '0+', default: '' }),
    topics: arrayField({
      name: field(t.string),
      partitions: arrayField({
        partitionIndex: field(t.int32),
        replicas: field(t.array(t.int32)),
        addingReplicas: field(t.array(t.int32)),
        removingReplicas: field(t.array(t.int32)),
      }),
    }),
  },
})

export type ListPartitionReassignmentsRequestData = DecodedOf<typeof ListPartitionReassignmentsRequest>
export type ListPartitionReassignmentsRequestInput = InputOf<typeof ListPartitionReassignmentsRequest>
export type ListPartitionReassignmentsResponseData = DecodedOf<typeof ListPartitionReassignmentsResponse>
export type ListPartitionReassignmentsResponseInput = InputOf<typeof ListPartitionReassignmentsResponse>
