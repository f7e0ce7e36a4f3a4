// DescribeCluster: the brokers, controller and cluster id, for admin clients.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const DescribeClusterRequest = message({
  name: 'DescribeClusterRequest',
  apiKey: 60,
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: {
    includeClusterAuthorizedOperations: field(t.bool),
    endpointType: field(t.int8, { v: '1+', default: 1 }),
  },
})

export const DescribeClusterResponse = message({
  name: 'DescribeClusterResponse',
  apiKey: 60,
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: {
    throttleTimeMs: field(t.int32),
    errorCode: field(t.int16),
    errorMessage: field(t.string, { nullable: '0+' }),
    endpointType: field(t.int8, { v: '1+', default: 1 }),
    clusterId: field(t.string),
    controllerId: field(t.int32, { default: -1 }),
    brokers: arrayField({
      brokerId: field(t.int32),
      host: field(t.string),
      port: field(t.int32),
      rack: field(t.string, { nullable: '0+' }),
    }),
    clusterAuthorizedOperations: field(t.int32, { default: -2147483648 }),
  },
})

export type DescribeClusterRequestData = DecodedOf<typeof DescribeClusterRequest>
export type DescribeClusterRequestInput = InputOf<typeof DescribeClusterRequest>
export type DescribeClusterResponseData = DecodedOf<typeof DescribeClusterResponse>
export type DescribeClusterResponseInput = InputOf<typeof DescribeClusterResponse>
