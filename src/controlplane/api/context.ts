// What every API handler receives and returns. A handler has one shape: read and validate its
// request, check it against the store, write (one transaction) and wake the reconciler, answer.
// Most answer at once; the topic handlers await the cluster's Kafka (`kafkaAdmin`) and return a
// promise, which the server awaits under its own deadline.

import type { ClusterAdmin } from '../cluster-admin.js'
import type { ClusterRecord, ControlPlaneStore, OperationRunner } from '../model.js'

export interface ApiContext {
  store: ControlPlaneStore
  runner: OperationRunner
  account: string
  now(): Date
  /**
   * The admin connection to a cluster's Kafka (the control plane's, over the cluster's
   * bootstrap brokers); undefined when no processes run for it. Absent when the server was
   * started without clusters to reach (the API tests' fake runner): topics then answer 400.
   */
  kafkaAdmin?: (cluster: ClusterRecord) => ClusterAdmin | undefined
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

export type Handler = (req: ApiRequest, ctx: ApiContext) => ApiResponse | Promise<ApiResponse>

export interface Route {
  /** MSK's operation name (or Fjord's, for extensions). */
  operation: string
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** Path template; `{name}` matches one raw segment. */
  path: string
  handler: Handler
}
