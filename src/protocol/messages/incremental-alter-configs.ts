// IncrementalAlterConfigs: sets, deletes, appends or subtracts single configuration entries.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const IncrementalAlterConfigsRequest = message({
  name: 'IncrementalAlterConfigsRequest',
  apiKey: 44,
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: {
    resources: arrayField({
      resourceType: field(t.int8),
      resourceName: field(t.string),
      configs: arrayField({
        name: field(t.string),
        configOperation: field(t.int8),
        value: field(t.string, { nullable: '0+', default: '' }),
      }),
    }),
    validateOnly: field(t.bool),
  },
})

export const IncrementalAlterConfigsResponse = message({
  name: 'IncrementalAlterConfigsResponse',
  apiKey: 44,
  validVersions: '0-1',
  flexibleVersions: '1+',
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

export type IncrementalAlterConfigsRequestData = DecodedOf<typeof IncrementalAlterConfigsRequest>
export type IncrementalAlterConfigsRequestInput = InputOf<typeof IncrementalAlterConfigsRequest>
export type IncrementalAlterConfigsResponseData = DecodedOf<typeof IncrementalAlterConfigsResponse>
export type IncrementalAlterConfigsResponseInput = InputOf<typeof IncrementalAlterConfigsResponse>
