// The table of every API this codebase declares: key, name and its request/response messages.
// The broker's handler registry and the round-trip tests both read from here.

import type { Fields, Message } from './schema.js'
import { ApiVersionsRequest, ApiVersionsResponse } from './messages/api-versions.js'

export interface Api<Q extends Fields = Fields, S extends Fields = Fields> {
  key: number
  name: string
  request: Message<Q>
  response: Message<S>
}

function api<Q extends Fields, S extends Fields>(name: string, request: Message<Q>, response: Message<S>): Api<Q, S> {
  if (request.apiKey !== response.apiKey) throw new Error(`${name}: request and response keys differ`)
  return { key: request.apiKey, name, request, response }
}

export const Apis = {
  ApiVersions: api('ApiVersions', ApiVersionsRequest, ApiVersionsResponse),
} as const

export type ApiName = keyof typeof Apis

export const apiByKey: ReadonlyMap<number, Api> = new Map(Object.values(Apis).map((a) => [a.key, a as unknown as Api]))
