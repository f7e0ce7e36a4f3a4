// DescribeConfigs: reads topic and broker configuration entries.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const DescribeConfigsRequest = message({
  name: 'DescribeConfigsRequest',
  apiKey: 32,
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: {
    resources: arrayField({
      resourceType: field(t.int8),
      resourceName: field(t.string),
      configurationKeys: field(t.array(t.string), { nullable: '0+', default: [] }),
    }),
    includeSynonyms: field(t.bool, { v: '1+' }),
    includeDocumentation: field(t.bool, { v: '3+' }),
  },
})

export const DescribeConfigsResponse = message({
  name: 'DescribeConfigsResponse',
  apiKey: 32,
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: {
    throttleTimeMs: field(t.int32),
    results: arrayField({
      errorCode: field(t.int16),
      errorMessage: field(t.string, { nullable: '0+', default: '' }),
      resourceType: field(t.int8),
      resourceName: field(t.string),
      configs: arrayField({
        name: field(t.string),
        value: field(t.string, { nullable: '0+', default: '' }),
        readOnly: field(t.bool),
        isDefault: field(t.bool, { v: '0' }),
        configSource: field(t.int8, { v: '1+', default: -1 }),
        isSensitive: field(t.bool),
        synonyms: arrayField({
          name: field(t.string, { v: '1+' }),
          value: field(t.string, { v: '1+', nullable: '0+', default: '' }),
          source: field(t.int8, { v: '1+' }),
        }, { v: '1+' }),
        configType: field(t.int8, { v: '3+' }),
        documentation: field(t.string, { v: '3+', nullable: '0+', default: '' }),
      }),
    }),
  },
})

export type DescribeConfigsRequestData = DecodedOf<typeof DescribeConfigsRequest>
export type DescribeConfigsRequestInput = InputOf<typeof DescribeConfigsRequest>
export type DescribeConfigsResponseData = DecodedOf<typeof DescribeConfigsResponse>
export type DescribeConfigsResponseInput = InputOf<typeof DescribeConfigsResponse>
