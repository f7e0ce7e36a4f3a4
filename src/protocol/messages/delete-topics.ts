// DeleteTopics: deletes topics by name or (v6+) by id.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const DeleteTopicsRequest = message({
  name: 'DeleteTopicsRequest',
  apiKey: 20,
  validVersions: '0-6',
  flexibleVersions: '4+',
  fields: {
    topics: arrayField({
      name: field(t.string, { v: '6+', nullable: '6+' }),
      topicId: field(t.uuid, { v: '6+' }),
    }, { v: '6+' }),
    topicNames: field(t.array(t.string), { v: '0-5' }),
    timeoutMs: field(t.int32),
  },
})

export const DeleteTopicsResponse = message({
  name: 'DeleteTopicsResponse',
  apiKey: 20,
  validVersions: '0-6',
  flexibleVersions: '4+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '1+' }),
    responses: arrayField({
      name: field(t.string, { nullable: '6+', default: '' }),
      topicId: field(t.uuid, { v: '6+' }),
      errorCode: field(t.int16),
      errorMessage: field(t.string, { v: '5+', nullable: '5+' }),
    }),
  },
})

export type DeleteTopicsRequestData = DecodedOf<typeof DeleteTopicsRequest>
export type DeleteTopicsRequestInput = InputOf<typeof DeleteTopicsRequest>
export type DeleteTopicsResponseData = DecodedOf<typeof DeleteTopicsResponse>
export type DeleteTopicsResponseInput = InputOf<typeof DeleteTopicsResponse>
