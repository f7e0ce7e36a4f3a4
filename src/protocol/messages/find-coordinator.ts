// FindCoordinator: which broker coordinates a group or a transactional id.

import { arrayField, field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const FindCoordinatorRequest = message({
  name: 'FindCoordinatorRequest',
  apiKey: 10,
  validVersions: '0-6',
  flexibleVersions: '3+',
  fields: {
    key: field(t.string, { v: '0-3' }),
    keyType: field(t.int8, { v: '1+' }),
    coordinatorKeys: field(t.array(t.string), { v: '4+' }),
  },
})

export const FindCoordinatorResponse = message({
  name: 'FindCoordinatorResponse',
  apiKey: 10,
  validVersions: '0-6',
  flexibleVersions: '3+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '1+' }),
    errorCode: field(t.int16, { v: '0-3' }),
    errorMessage: field(t.string, { v: '1-3', nullable: '1-3', default: '' }),
    nodeId: field(t.int32, { v: '0-3' }),
    host: field(t.string, { v: '0-3' }),
    port: field(t.int32, { v: '0-3' }),
    coordinators: arrayField({
      key: field(t.string, { v: '4+' }),
      nodeId: field(t.int32, { v: '4+' }),
      host: field(t.string, { v: '4+' }),
      port: field(t.int32, { v: '4+' }),
      errorCode: field(t.int16, { v: '4+' }),
      errorMessage: field(t.string, { v: '4+', nullable: '4+', default: '' }),
    }, { v: '4+' }),
  },
})

export type FindCoordinatorRequestData = DecodedOf<typeof FindCoordinatorRequest>
export type FindCoordinatorRequestInput = InputOf<typeof FindCoordinatorRequest>
export type FindCoordinatorResponseData = DecodedOf<typeof FindCoordinatorResponse>
export type FindCoordinatorResponseInput = InputOf<typeof FindCoordinatorResponse>
