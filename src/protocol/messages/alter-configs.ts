// AlterConfigs: replaces the whole configuration of a resource.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const AlterConfigsRequest = message({
  name: 'AlterConfigsRequest',
  apiKey: 33,
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: {
    resources: arrayField({
      resourceType: field(t.int8),
      resourceName: field(t.string),
      configs: arrayField({
        name: field(t.string),
        value: field(t.string, { nullable: '0+', default: '' }),
      }),
    }),
    validateOnly: field(t.bool),
  },
})

export const AlterConfigsResponse = message({
  name: 'AlterConfigsResponse',
  apiKey: 33,
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: {
    throttleTimeMs: field(t.int32),
    responses: arrayField({
      errorCode: field(t.int16),
      errorMessage: field(t.string, { nullable: '0+', default: '' }),
      resourceType: field(t.int8),
      resourceName: field(t.string),
    }),
  },
})

export type AlterConfigsRequestData = DecodedOf<typeof AlterConfigsRequest>
export type AlterConfigsRequestInput = InputOf<typeof AlterConfigsRequest>
export type AlterConfigsResponseData = DecodedOf<typeof AlterConfigsResponse>
export type AlterConfigsResponseInput = InputOf<typeof AlterConfigsResponse>
