// A small Kafka client for the fjord command, built on our own message declarations: one
// connection per broker, ApiVersions negotiation (the highest version both sides know), requests
// matched to responses by correlation id, a deadline per request, and errors that say what
// failed. KafkaClient adds the cluster view the admin commands need: Metadata, a connection per
// broker id, and the coordinator of a group.

import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { Apis, type Api } from '../protocol/apis.js'
import { ErrorCode, KafkaError, errorInfo } from '../protocol/errors.js'
import { decodeResponseHeader, encodeRequestHeader, responseHeaderIsFlexible } from '../protocol/headers.js'
import { Reader, Writer } from '../protocol/primitives.js'
import type { DecodedStruct, Fields, InputStruct } from '../protocol/schema.js'

export interface ClientOptions {
  clientId?: string
  /** Deadline of one request, and of connecting. Default 30 s. */
  requestTimeoutMs?: number
  /** Caps the version used for some APIs (by API key): tests use it to drive older versions. */
  maxVersions?: ReadonlyMap<number, number>
}

/** A failure below the Kafka protocol: cannot connect, timed out, connection lost, bad bytes. */
export class ClientError extends Error {
  override name = 'ClientError'
}

export interface Address { host: string; port: number }

/** Parses "host:port" (or "[v6]:port", or a bare host with port 9092). */
export function parseAddress(text: string): Address {
  const s = text.trim()
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s)
  const m = v6 ?? /^([^:]+)(?::(\d+))?$/.exec(s)
  const port = m?.[2] === undefined ? 9092 : Number(m[2])
  if (!m || !m[1] || !Number.isInteger(port) || port <= 0 || port > 65535) throw new ClientError(`bad broker address '${text}' (expected host:port)`)
  return { host: m[1], port }
}

function softwareVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

interface Pending {
  resolve: (frame: Buffer) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

/** One connection to one broker, after ApiVersions. */
export class KafkaConnection {
  private buffered: Buffer = Buffer.alloc(0)
  private chunks: Buffer[] = []
  private chunkBytes = 0
  private nextCorrelationId = 1
  private readonly pending = new Map<number, Pending>()
  private failure: Error | null = null
  private brokerVersions = new Map<number, { min: number; max: number }>()

  private constructor(
    private readonly socket: Socket,
    readonly address: Address,
    private readonly options: Required<Pick<ClientOptions, 'clientId' | 'requestTimeoutMs'>> & ClientOptions,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (err) => this.fail(new ClientError(`connection to ${this.describe()} failed: ${err.message}`)))
    socket.on('close', () => this.fail(new ClientError(`connection to ${this.describe()} closed by the broker`)))
  }

  /** Connects and negotiates versions with ApiVersions. */
  static async open(address: Address, options: ClientOptions = {}): Promise<KafkaConnection> {
    const opts = { ...options, clientId: options.clientId ?? 'fjord-cli', requestTimeoutMs: options.requestTimeoutMs ?? 30_000 }
    const where = `${address.host}:${address.port}`
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: address.host, port: address.port })
      const timer = setTimeout(() => {
        s.destroy()
        reject(new ClientError(`cannot connect to ${where}: no answer within ${opts.requestTimeoutMs} ms`))
      }, opts.requestTimeoutMs)
      s.once('connect', () => { clearTimeout(timer); s.removeAllListeners('error'); resolve(s) })
      s.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        reject(new ClientError(`cannot connect to ${where}: ${err.code ?? err.message}${err.code === 'ECONNREFUSED' ? ' (is a broker running there?)' : ''}`))
      })
    })
    socket.setNoDelay(true)
    const conn = new KafkaConnection(socket, address, opts)
    try {
      await conn.negotiate()
    } catch (err) {
      conn.close()
      throw err
    }
    return conn
  }

  describe(): string {
    return `${this.address.host}:${this.address.port}`
  }

  /** The version both sides support for `api`, or UNSUPPORTED_VERSION. */
  version(api: Api<any, any>): number {
    const theirs = this.brokerVersions.get(api.key)
    const ours = api.request.versions
    const cap = this.options.maxVersions?.get(api.key) ?? Number.MAX_SAFE_INTEGER
    const v = theirs ? Math.min(theirs.max, ours.max, cap) : -1
    if (!theirs || v < theirs.min || v < ours.min) {
      throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, `the broker at ${this.describe()} does not support ${api.name} at a version this client knows (${ours.min}-${ours.max})`)
    }
    return v
  }

  /**
   * Sends one request at the negotiated version. `build` gets that version, since request
   * shapes differ between versions; the response comes back with it.
   */
  async send<Q extends Fields, S extends Fields>(api: Api<Q, S>, build: (version: number) => InputStruct<Q>): Promise<{ version: number; body: DecodedStruct<S> }> {
    const version = this.version(api)
    const frame = await this.roundTrip(api, version, build(version))
    return { version, body: this.decode(api, version, frame) }
  }

  /**
   * Sends a request the broker answers with nothing (Produce with acks=0); resolves once the
   * bytes are handed to the socket.
   */
  sendWithoutResponse<Q extends Fields>(api: Api<Q, any>, build: (version: number) => InputStruct<Q>): Promise<number> {
    if (this.failure) return Promise.reject(this.failure)
    const version = this.version(api)
    const w = new Writer()
    const patchSize = w.reserveInt32()
    encodeRequestHeader(w, { apiKey: api.key, apiVersion: version, correlationId: this.nextCorrelationId++, clientId: this.options.clientId }, api.request.isFlexible(version))
    api.request.encode(version, build(version), w)
    patchSize(w.length - 4)
    return new Promise((resolve, reject) => {
      const chunks = w.finish()
      this.socket.cork()
      chunks.forEach((chunk, i) => this.socket.write(chunk, i === chunks.length - 1 ? (err) => (err ? reject(new ClientError(`sending ${api.name} to ${this.describe()} failed: ${err.message}`)) : resolve(version)) : undefined))
      this.socket.uncork()
    })
  }

  private decode<Q extends Fields, S extends Fields>(api: Api<Q, S>, version: number, r: Reader): DecodedStruct<S> {
    try {
      const body = api.response.decode(version, r)
      return body
    } catch (err) {
      throw new ClientError(`cannot decode the ${api.name} v${version} response from ${this.describe()}: ${(err as Error).message}`)
    }
  }

  private async negotiate(): Promise<void> {
    const api = Apis.ApiVersions
    let version = api.request.versions.max
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await this.roundTrip(api, version, { clientSoftwareName: 'fjord-cli', clientSoftwareVersion: softwareVersion() })
      // A broker that does not know our version answers UNSUPPORTED_VERSION in a v0 body, with
      // the versions it does know; every version starts with the error code.
      const errorCode = r.buf.readInt16BE(r.offset)
      const body = this.decode(api, errorCode === ErrorCode.UNSUPPORTED_VERSION.code ? 0 : version, r)
      if (errorCode === ErrorCode.UNSUPPORTED_VERSION.code) {
        const theirs = body.apiKeys.find((k) => k.apiKey === api.key)
        if (!theirs || theirs.maxVersion >= version) break
        version = theirs.maxVersion
        continue
      }
      if (errorCode !== 0) throw new KafkaError(errorInfo(errorCode), `ApiVersions failed at ${this.describe()}: ${errorInfo(errorCode).message}`)
      this.brokerVersions = new Map(body.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]))
      return
    }
    throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, `the broker at ${this.describe()} does not support an ApiVersions version this client knows`)
  }

  private roundTrip(api: Api<any, any>, version: number, body: unknown): Promise<Reader> {
    if (this.failure) return Promise.reject(this.failure)
    const correlationId = this.nextCorrelationId++
    const flexible = api.request.isFlexible(version)
    const w = new Writer()
    const patchSize = w.reserveInt32()
    encodeRequestHeader(w, { apiKey: api.key, apiVersion: version, correlationId, clientId: this.options.clientId }, flexible)
    api.request.encode(version, body as InputStruct<Fields>, w)
    patchSize(w.length - 4)
    return new Promise<Reader>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Responses arrive in request order: a connection with a lost answer is not reusable.
        this.fail(new ClientError(`${api.name} request to ${this.describe()} timed out after ${this.options.requestTimeoutMs} ms`))
        this.socket.destroy()
      }, this.options.requestTimeoutMs)
      this.pending.set(correlationId, {
        timer,
        reject,
        resolve: (frame) => {
          try {
            const r = new Reader(frame)
            decodeResponseHeader(r, responseHeaderIsFlexible(api.key, flexible))
            resolve(r)
          } catch (err) {
            reject(new ClientError(`bad ${api.name} response header from ${this.describe()}: ${(err as Error).message}`))
          }
        },
      })
      this.socket.cork()
      for (const chunk of w.finish()) this.socket.write(chunk)
      this.socket.uncork()
    })
  }

  private onData(chunk: Buffer): void {
    // Gather a frame's chunks and join them once: joining on every chunk is quadratic for the
    // megabyte Fetch responses replication reads.
    this.chunks.push(chunk)
    this.chunkBytes += chunk.length
    if (this.buffered.length + this.chunkBytes < 4) return
    if (this.buffered.length >= 4 && this.buffered.length + this.chunkBytes < 4 + this.buffered.readInt32BE(0)) return
    this.buffered = this.buffered.length === 0 && this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat([this.buffered, ...this.chunks])
    this.chunks = []
    this.chunkBytes = 0
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0)
      if (size < 4) {
        this.fail(new ClientError(`bad frame size ${size} from ${this.describe()}`))
        this.socket.destroy()
        return
      }
      if (this.buffered.length < 4 + size) return
      const frame = this.buffered.subarray(4, 4 + size)
      this.buffered = this.buffered.subarray(4 + size)
      const correlationId = frame.readInt32BE(0)
      const p = this.pending.get(correlationId)
      if (!p) {
        this.fail(new ClientError(`response with unknown correlation id ${correlationId} from ${this.describe()}`))
        this.socket.destroy()
        return
      }
      this.pending.delete(correlationId)
      clearTimeout(p.timer)
      p.resolve(frame)
    }
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err
    for (const p of this.pending.values()) {
      clearTimeout(p.timer)
      p.reject(this.failure)
    }
    this.pending.clear()
  }

  close(): void {
    this.failure ??= new ClientError('connection closed')
    this.fail(this.failure)
    this.socket.destroy()
  }
}

export interface BrokerNode { nodeId: number; host: string; port: number; rack: string | null }

/** Throws the KafkaError for a non-zero error code, with the broker's message when it sent one. */
export function check(errorCode: number, message?: string | null, context?: string): void {
  if (errorCode === 0) return
  const info = errorInfo(errorCode)
  const text = message || info.message
  throw new KafkaError(info, context ? `${context}: ${text}` : text)
}

const COORDINATOR_RETRIABLE = new Set([
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS.code,
  ErrorCode.COORDINATOR_NOT_AVAILABLE.code,
  ErrorCode.NOT_COORDINATOR.code,
])

/** A client of one cluster: a bootstrap connection, then one connection per broker it needs. */
export class KafkaClient {
  private readonly nodes = new Map<number, BrokerNode>()
  private readonly connections = new Map<string, Promise<KafkaConnection>>()

  private constructor(private readonly bootstrapConn: KafkaConnection, private readonly options: ClientOptions) {
    this.connections.set(bootstrapConn.describe(), Promise.resolve(bootstrapConn))
  }

  /** Connects to the first reachable address of a comma-separated bootstrap list. */
  static async connect(bootstrap: string, options: ClientOptions = {}): Promise<KafkaClient> {
    const addresses = bootstrap.split(',').filter((s) => s.trim() !== '').map(parseAddress)
    if (addresses.length === 0) throw new ClientError('no bootstrap server given')
    const errors: string[] = []
    for (const a of addresses) {
      try {
        return new KafkaClient(await KafkaConnection.open(a, options), options)
      } catch (err) {
        if (!(err instanceof ClientError)) throw err
        errors.push(err.message)
      }
    }
    throw new ClientError(errors.join('; '))
  }

  /** Any broker: for requests every broker answers the same (Metadata, CreateTopics). */
  get any(): KafkaConnection {
    return this.bootstrapConn
  }

  /** Metadata for some topics (null: all), without creating any; remembers the brokers. */
  async metadata(topics: readonly string[] | null) {
    const { body } = await this.any.send(Apis.Metadata, (v) => ({
      topics: topics === null ? (v === 0 ? [] : null) : topics.map((name) => ({ name })),
      allowAutoTopicCreation: false,
    }))
    for (const b of body.brokers) this.nodes.set(b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })
    return body
  }

  /** The connection to broker `nodeId` (as Metadata named it). */
  async node(nodeId: number): Promise<KafkaConnection> {
    if (!this.nodes.has(nodeId)) await this.metadata([])
    const n = this.nodes.get(nodeId)
    if (!n) throw new KafkaError(ErrorCode.BROKER_NOT_AVAILABLE, `broker ${nodeId} is not in the cluster metadata`)
    return this.connectTo({ host: n.host, port: n.port })
  }

  /** Forgets the connection to a broker (after it failed), so that the next use reconnects. */
  forget(connection: KafkaConnection): void {
    if (connection === this.bootstrapConn) return
    this.connections.delete(connection.describe())
    connection.close()
  }

  /** Every broker of the cluster, from Metadata. */
  async brokers(): Promise<BrokerNode[]> {
    await this.metadata([])
    return [...this.nodes.values()].sort((a, b) => a.nodeId - b.nodeId)
  }

  private connectTo(address: Address): Promise<KafkaConnection> {
    const key = `${address.host}:${address.port}`
    let c = this.connections.get(key)
    if (!c) {
      c = KafkaConnection.open(address, this.options)
      c.catch(() => this.connections.delete(key))
      this.connections.set(key, c)
    }
    return c
  }

  /** The coordinator of a group. */
  async coordinator(groupId: string): Promise<{ node: BrokerNode; connection: KafkaConnection }> {
    const { body, version } = await this.any.send(Apis.FindCoordinator, (v) =>
      v >= 4 ? { keyType: 0, coordinatorKeys: [groupId] } : { key: groupId, keyType: 0 })
    const c = version >= 4
      ? body.coordinators[0] ?? { nodeId: -1, host: '', port: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE.code, errorMessage: null }
      : { nodeId: body.nodeId, host: body.host, port: body.port, errorCode: body.errorCode, errorMessage: body.errorMessage }
    check(c.errorCode, c.errorMessage, `FindCoordinator for group '${groupId}'`)
    const node = { nodeId: c.nodeId, host: c.host, port: c.port, rack: null }
    this.nodes.set(c.nodeId, this.nodes.get(c.nodeId) ?? node)
    return { node, connection: await this.connectTo({ host: c.host, port: c.port }) }
  }

  /**
   * Runs `fn` against the group's coordinator, finding it again while it moves or loads
   * (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR).
   */
  async withCoordinator<T>(groupId: string, fn: (c: KafkaConnection, node: BrokerNode) => Promise<T>, attempts = 6): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        const { connection, node } = await this.coordinator(groupId)
        return await fn(connection, node)
      } catch (err) {
        if (i >= attempts || !(err instanceof KafkaError) || !COORDINATOR_RETRIABLE.has(err.code)) throw err
        await new Promise((r) => setTimeout(r, 100 * i))
      }
    }
  }

  async close(): Promise<void> {
    const all = await Promise.allSettled(this.connections.values())
    for (const r of all) if (r.status === 'fulfilled') r.value.close()
    this.connections.clear()
  }
}
