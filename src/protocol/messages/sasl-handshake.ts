// SaslHandshake: picks the SASL mechanism; never flexible.

import { field, message, t, type DecodedOf, type InputOf } from '../schema.js'

export const SaslHandshakeRequest = message({
  name: 'SaslHandshakeRequest',
  apiKey: 17,
  validVersions: '0-1',
  flexibleVersions: 'none',
  fields: {
    mechanism: field(t.string),
  },
})

export const SaslHandshakeResponse = message({
  name: 'SaslHandshakeResponse',
  apiKey: 17,
  validVersions: '0-1',
  flexibleVersions: 'none',
  fields: {
    errorCode: field(t.int16),
    mechanisms: field(t.array(t.string)),
  },
})

export type SaslHandshakeRequestData = DecodedOf<typeof SaslHandshakeRequest>
export type SaslHandshakeRequestInput = InputOf<typeof SaslHandshakeRequest>
export type SaslHandshakeResponseData = DecodedOf<typeof SaslHandshakeResponse>
export type SaslHandshakeResponseInput = InputOf<typeof SaslHandshakeResponse>
