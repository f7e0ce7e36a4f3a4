// The MSK-compatible HTTP API (rest-json, as the AWS SDKs and CLI speak it) over node:http.
// Routing is on the RAW path: MSK clients percent-encode an ARN's '/' and ':' inside one path
// segment, so segments are matched first and parameters decoded after. The region and access key
// come from the SigV4 Authorization header's credential scope (signatures are not checked yet).
// Errors leave as MSK's: status, `x-amzn-ErrorType: <Name>Exception`, {"message", "invalidParameter"}.
// Handlers may answer a promise (the topic operations wait on the cluster's Kafka): it is awaited
// for at most `handlerTimeoutMs`, then answered 503 ServiceUnavailableException; a rejection maps
// as a synchronous throw does (an ApiError as itself, anything else 500).

import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { ROUTES } from '../api/routes.js'
import type { ApiContext, ApiRequest, ApiResponse, Route } from '../api/context.js'
import { DEFAULT_ACCOUNT, DEFAULT_REGION } from '../arn.js'
import { ApiError, badRequest, internalError, notFound } from '../errors.js'
import type { ClusterAdmin } from '../cluster-admin.js'
import type { ClusterRecord, ControlPlaneStore, OperationRunner } from '../model.js'

/** The part of pino the server uses. */
export interface ApiLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface ApiServerOptions {
  store: ControlPlaneStore
  runner: OperationRunner
  host: string
  port: number
  account?: string
  defaultRegion?: string
  logger?: ApiLogger
  /**
   * How long a client has to send a whole request (headers and body); a slow or never-ending
   * request is then answered 408 and its connection closed. Default REQUEST_TIMEOUT_MS.
   */
  requestTimeoutMs?: number
  /** How long a handler's answer may take once the request arrived; default HANDLER_TIMEOUT_MS. */
  handlerTimeoutMs?: number
  /** Reaches a cluster's Kafka (ApiContext.kafkaAdmin); without it the topic operations answer 400. */
  kafkaAdmin?: (cluster: ClusterRecord) => ClusterAdmin | undefined
}

export interface ApiServer {
  url: string
  port: number
  close(): Promise<void>
}

/** Request bodies above this are refused (MSK's largest, a configuration, is far smaller). */
export const MAX_BODY_BYTES = 1024 * 1024

/** The default time a client has to send a whole request; the headers get at most HEADERS_TIMEOUT_MS of it. */
export const REQUEST_TIMEOUT_MS = 30_000
export const HEADERS_TIMEOUT_MS = 10_000

/** The default time a handler has to answer (the topic operations wait on Kafka for less). */
export const HANDLER_TIMEOUT_MS = 60_000

/**
 * Objects and arrays nest at most this deep in a request body. MSK's deepest member is 8 levels
 * down; a body nested thousands deep parses, but storing or cloning it overflows the stack.
 */
export const MAX_BODY_DEPTH = 32

const silent: ApiLogger = { info() {}, warn() {}, error() {} }

interface CompiledRoute {
  route: Route
  /** A literal segment, or null for a parameter named in `names`. */
  segments: Array<string | null>
  names: Array<string | undefined>
}

function compile(route: Route): CompiledRoute {
  const parts = route.path.split('/').slice(1)
  return {
    route,
    segments: parts.map((p) => (p.startsWith('{') ? null : p)),
    names: parts.map((p) => (p.startsWith('{') ? p.slice(1, -1) : undefined)),
  }
}

const COMPILED = ROUTES.map(compile)

/** The route for a method and raw path, with its raw (still encoded) parameters; or why there is none. */
function match(method: string, rawPath: string): { route: Route; raw: Record<string, string> } | ApiError {
  const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath
  const segments = path.split('/').slice(1)
  const methods: string[] = []
  for (const c of COMPILED) {
    if (c.segments.length !== segments.length) continue
    const raw: Record<string, string> = {}
    const ok = c.segments.every((literal, i) => {
      const seg = segments[i] as string
      if (literal !== null) return literal === seg
      if (seg === '') return false
      raw[c.names[i] as string] = seg
      return true
    })
    if (!ok) continue
    if (c.route.method === method) return { route: c.route, raw }
    methods.push(c.route.method)
  }
  return methods.length > 0
    ? notFound(`No operation answers ${method} ${path}; it takes ${methods.join(', ')}`)
    : notFound(`No operation at ${path}`)
}

function decodeParams(raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(raw)) {
    try {
      out[name] = decodeURIComponent(value)
    } catch {
      throw badRequest(`${name} is not validly percent-encoded`, name)
    }
  }
  return out
}

/** Region and access key from `Credential=AKID/DATE/REGION/kafka/aws4_request`. */
function credentialScope(header: string | undefined, defaultRegion: string): { region: string; accessKeyId: string | null } {
  const m = /Credential=([^/,\s]+)\/\d{8}\/([^/,\s]+)\/[^/,\s]+\/aws4_request/.exec(header ?? '')
  if (m === null) return { region: defaultRegion, accessKeyId: null }
  const region = /^[a-z]{2}(-[a-z0-9]+)+$/.test(m[2] as string) ? (m[2] as string) : defaultRegion
  return { region, accessKeyId: m[1] as string }
}

/** Reads the body up to MAX_BODY_BYTES; an ApiError when it is larger. */
function readBody(req: IncomingMessage): Promise<Buffer | ApiError> {
  const tooLarge = () => badRequest(`The request body is larger than ${MAX_BODY_BYTES} bytes`)
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) return Promise.resolve(tooLarge())
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) over = true
      if (!over) chunks.push(chunk)
    })
    req.on('end', () => resolve(over ? tooLarge() : Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function parseJson(body: Buffer): Record<string, unknown> {
  const text = body.toString('utf8')
  if (text.trim() === '') return {}
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw badRequest(`The request body is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('The request body must be a JSON object')
  if (depthOf(value) > MAX_BODY_DEPTH) throw badRequest(`The request body is nested more than ${MAX_BODY_DEPTH} levels deep`)
  return value as Record<string, unknown>
}

/** How deeply objects and arrays nest in `value` (counted without recursion: the body may be deep). */
function depthOf(value: object): number {
  let deepest = 0
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number]
    if (typeof v !== 'object' || v === null) continue
    if (depth > deepest) deepest = depth
    if (deepest > MAX_BODY_DEPTH) break
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1])
  }
  return deepest
}

function send(res: ServerResponse, requestId: string, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = status === 204 || body === undefined ? '' : JSON.stringify(body)
  res.writeHead(status, {
    'x-amzn-RequestId': requestId,
    ...(payload === '' ? {} : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) }),
    ...headers,
  })
  res.end(payload)
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const logger = opts.logger ?? silent
  const defaultRegion = opts.defaultRegion ?? DEFAULT_REGION
  const ctx: ApiContext = {
    store: opts.store,
    runner: opts.runner,
    account: opts.account ?? DEFAULT_ACCOUNT,
    now: () => new Date(),
    ...(opts.kafkaAdmin ? { kafkaAdmin: opts.kafkaAdmin } : {}),
  }
  const handlerTimeout = opts.handlerTimeoutMs ?? HANDLER_TIMEOUT_MS

  /** The handler's answer, awaited for at most handlerTimeout; a synchronous throw becomes a rejection. */
  function answerOf(route: Route, request: ApiRequest): Promise<ApiResponse> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ApiError('ServiceUnavailableException', `${route.operation} did not finish within ${handlerTimeout} ms; it may still complete`)),
        handlerTimeout,
      )
    })
    const answer = new Promise<ApiResponse>((resolve) => resolve(route.handler(request, ctx)))
    return Promise.race([answer, late]).finally(() => clearTimeout(timer))
  }

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const method = req.method ?? 'GET'
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const rawPath = q < 0 ? url : url.slice(0, q)
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
    const body = await readBody(req)
    if (body instanceof ApiError) {
      req.resume()
      return send(res, requestId, body.status, body.body(), { 'x-amzn-ErrorType': body.errorName, Connection: 'close' })
    }
    const found = match(method, rawPath)
    if (found instanceof ApiError) throw found
    const { region, accessKeyId } = credentialScope(req.headers.authorization, defaultRegion)
    const apiRequest: ApiRequest = { params: decodeParams(found.raw), query, body: parseJson(body), region, accessKeyId }
    const answer = await answerOf(found.route, apiRequest)
    const status = answer.status ?? 200
    logger.info({ requestId, operation: found.route.operation, status, region }, 'msk api request')
    send(res, requestId, status, answer.body)
  }

  const requestTimeout = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
  const timeouts = {
    requestTimeout,
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
    // How often node:http looks for requests past their timeouts (its default, 30 s, would let a
    // short timeout run 30 s late).
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(requestTimeout / 4))),
  }
  const server = createServer(timeouts, (req, res) => {
    const requestId = randomUUID()
    handle(req, res, requestId).catch((err: unknown) => {
      let error: ApiError
      if (err instanceof ApiError) {
        error = err
      } else {
        logger.error({ requestId, err, method: req.method, url: req.url }, 'msk api request failed')
        error = internalError(`Internal error (request ${requestId})`)
      }
      if (res.headersSent) {
        res.destroy()
        return
      }
      send(res, requestId, error.status, error.body(), { 'x-amzn-ErrorType': error.errorName })
    })
  })
  // What node:http refuses before a request reaches `handle` (malformed request line or headers,
  // a bad content-length or chunk, a request past its timeout) is answered in MSK's form too.
  // When the refused bytes follow a complete request still being answered (pipelining), that
  // request's answer goes first: answering 400 in its place would hide that it was carried out.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const pending = (socket as { _httpMessage?: ServerResponse | null })._httpMessage ?? null
    if (err.code === 'ECONNRESET' || !socket.writable || (pending !== null && pending.headersSent && !pending.writableEnded)) {
      socket.destroy()
      return
    }
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    const payload = JSON.stringify({
      message: timedOut ? 'The request did not arrive in time' : `The request is not valid HTTP/1.1 (${err.code ?? err.message})`,
    })
    const answer = () => {
      if (!socket.writable) return void socket.destroy()
      socket.end(
        `HTTP/1.1 ${timedOut ? '408 Request Timeout' : '400 Bad Request'}\r\n` +
          `x-amzn-RequestId: ${randomUUID()}\r\n` +
          `x-amzn-ErrorType: ${timedOut ? 'RequestTimeoutException' : 'BadRequestException'}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
      )
    }
    if (pending !== null && !pending.writableEnded && pending.req.complete) pending.once('close', answer)
    else answer()
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      }),
  }
}
