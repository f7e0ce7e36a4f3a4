// Heartbeat: a classic group member tells its coordinator it is alive.

import { field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const HeartbeatRequest = message({
  name: 'HeartbeatRequest',
  apiKey: 12,
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: {
    groupId: field(t.string),
    generationId: field(t.int32),
    memberId: field(t.string),
    groupInstanceId: field(t.string, { v: '3+', nullable: '3+' }),
  },
})

export const HeartbeatResponse = message({
  name: 'HeartbeatResponse',
  apiKey: 12,
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: {
    throttleTimeMs: field(t.int32, { v: '1+' }),
    errorCode: field(t.int16),
  },
})

export type HeartbeatRequestData = DecodedOf<typeof HeartbeatRequest>
export type HeartbeatRequestInput = InputOf<typeof HeartbeatRequest>
export type HeartbeatResponseData = DecodedOf<typeof HeartbeatResponse>
export type HeartbeatResponseInput = InputOf<typeof HeartbeatResponse>
