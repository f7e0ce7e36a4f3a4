// SaslAuthenticate: carries SASL tokens once the mechanism is chosen.

import { field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const SaslAuthenticateRequest = message({
  name: 'SaslAuthenticateRequest',
  apiKey: 36,
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: {
    authBytes: field(t.bytes),
  },
})

export const SaslAuthenticateResponse = message({
  name: 'SaslAuthenticateResponse',
  apiKey: 36,
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: {
    errorCode: field(t.int16),
    errorMessage: field(t.string, { nullable: '0+', default: '' }),
    authBytes: field(t.bytes),
    sessionLifetimeMs: field(t.int64, { v: '1+' }),
  },
})

export type SaslAuthenticateRequestData = DecodedOf<typeof SaslAuthenticateRequest>
export type SaslAuthenticateRequestInput = InputOf<typeof SaslAuthenticateRequest>
export type SaslAuthenticateResponseData = DecodedOf<typeof SaslAuthenticateResponse>
export type SaslAuthenticateResponseInput = InputOf<typeof SaslAuthenticateResponse>
