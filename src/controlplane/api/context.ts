// What every API handler receives and returns. A handler has one shape: read and validate its
// request, check it against the store, write (one transaction) and wake the reconciler, answer.

import type { ControlPlaneStore, OperationRunner } from '../model.js'

export interface ApiContext {
  store: ControlPlaneStore
  runner: OperationRunner
  account: string
  now(): Date
}

export interface ApiRequest {
  /** Path parameters, percent-decoded after the route matched. */
  params: Record<string, string>
  query: URLSearchParams
  /** The JSON body ({} when there was none). */
  body: Record<string, unknown>
  /** From the SigV4 credential scope, or the server's default region. */
  region: string
  accessKeyId: string | null
}

export interface ApiResponse {
  /** 200 unless said otherwise; 204 answers no body. */
  status?: number
  body?: unknown
}

export type Handler = (req: ApiRequest, ctx: ApiContext) => ApiResponse

export interface Route {
  /** MSK's operation name (or Fjord's, for extensions). */
  operation: string
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** Path template; `{name}` matches one raw segment. */
  path: string
  handler: Handler
}
