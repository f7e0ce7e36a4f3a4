// Request and response headers. The header version follows from the API and its version:
// flexible requests carry tagged fields in the header, except that ApiVersions responses always
// use header v0 so that a client can parse them before it knows what the broker speaks.

import { Reader, Writer } from './primitives.js'

export const API_VERSIONS_KEY = 18

export interface RequestHeader {
  apiKey: number
  apiVersion: number
  correlationId: number
  clientId: string | null
}

/** Decodes the fixed part of a request header (key, version, correlation id, client id). */
export function decodeRequestHeader(r: Reader): RequestHeader {
  const apiKey = r.int16()
  const apiVersion = r.int16()
  const correlationId = r.int32()
  const n = r.int16() // client id is a classic nullable string even in flexible versions
  const clientId = n < 0 ? null : r.stringOfLength(r.count(n))
  return { apiKey, apiVersion, correlationId, clientId }
}

/** Skips the tagged-field section that follows the header of a flexible request. */
export function skipHeaderTaggedFields(r: Reader): void {
  const n = r.count(r.uvarint(), 2)
  for (let i = 0; i < n; i++) {
    r.uvarint()
    r.slice(r.count(r.uvarint()))
  }
}

export function encodeRequestHeader(w: Writer, h: RequestHeader, flexible: boolean): void {
  w.int16(h.apiKey).int16(h.apiVersion).int32(h.correlationId)
  if (h.clientId === null) w.int16(-1)
  else {
    const n = Buffer.byteLength(h.clientId)
    w.int16(n).utf8(h.clientId, n)
  }
  if (flexible) w.uvarint(0)
}

export function responseHeaderIsFlexible(apiKey: number, requestFlexible: boolean): boolean {
  return requestFlexible && apiKey !== API_VERSIONS_KEY
}

export function encodeResponseHeader(w: Writer, correlationId: number, flexible: boolean): void {
  w.int32(correlationId)
  if (flexible) w.uvarint(0)
}

export function decodeResponseHeader(r: Reader, flexible: boolean): number {
  const correlationId = r.int32()
  if (flexible) skipHeaderTaggedFields(r)
  return correlationId
}
