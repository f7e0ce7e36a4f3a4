// ConsumerGroupDescribe: state, members and assignments of KIP-848 consumer groups.

import { arrayField, field, message, structField, t, type DecodedOf, type InputOf } from '../schema.js'

export const ConsumerGroupDescribeRequest = message({
  name: 'ConsumerGroupDescribeRequest',
  apiKey: 69,
  validVersions: '0',
  flexibleVersions: '0+',
  fields: {
    groupIds: field(t.array(t.string)),
    includeAuthorizedOperations: field(t.bool),
  },
})

const topicPartitionsFields = {
  topicId: field(t.uuid),
  topicName: field(t.string),
  partitions: field(t.array(t.int32)),
}

const assignmentFields = {
  topicPartitions: arrayField(topicPartitionsFields),
}

export const ConsumerGroupDescribeResponse = message({
  name: 'ConsumerGroupDescribeResponse',
  apiKey: 69,
  validVersions: '0',
  flexibleVersions: '0+',
  fields: {
    throttleTimeMs: field(t.int32),
    groups: arrayField({
      errorCode: field(t.int16),
      errorMessage: field(t.string, { nullable: '0+' }),
      groupId: field(t.string),
      groupState: field(t.string),
      groupEpoch: field(t.int32),
      assignmentEpoch: field(t.int32),
      assignorName: field(t.string),
      members: arrayField({
        memberId: field(t.string),
        instanceId: field(t.string, { nullable: '0+' }),
        rackId: field(t.string, { nullable: '0+' }),
        memberEpoch: field(t.int32),
        clientId: field(t.string),
        clientHost: field(t.string),
        subscribedTopicNames: field(t.array(t.string)),
        subscribedTopicRegex: field(t.string, { nullable: '0+' }),
        assignment: structField(assignmentFields),
        targetAssignment: structField(assignmentFields),
      }),
      authorizedOperations: field(t.int32, { default: -2147483648 }),
    }),
  },
})

export type ConsumerGroupDescribeRequestData = DecodedOf<typeof ConsumerGroupDescribeRequest>
export type ConsumerGroupDescribeRequestInput = InputOf<typeof ConsumerGroupDescribeRequest>
export type ConsumerGroupDescribeResponseData = DecodedOf<typeof ConsumerGroupDescribeResponse>
export type ConsumerGroupDescribeResponseInput = InputOf<typeof ConsumerGroupDescribeResponse>
