// One client connection: frames in, responses out, in request order.
//
// Framing gathers a frame's chunks and joins them once (a frame that arrives whole is a slice of
// the socket chunk, no copy). Requests start in arrival order — produce offsets are assigned
// synchronously at start, so pipelined produces keep their order — and may complete out of
// order; responses leave strictly in request order. Reading pauses while too many requests are
// in flight or the socket's write buffer is full, which bounds memory per connection.

import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import { Reader, Writer, DecodeError } from '../protocol/primitives.js'
import {
  API_VERSIONS_KEY,
  decodeRequestHeader,
  encodeResponseHeader,
  responseHeaderIsFlexible,
  skipHeaderTaggedFields,
  type RequestHeader,
} from '../protocol/headers.js'
import { ErrorCode, KafkaError } from '../protocol/errors.js'
import { ApiVersionsResponse } from '../protocol/messages/api-versions.js'
import { NO_RESPONSE, type HandlerRegistry, type RequestContext } from './registry.js'

const WRITE_HIGH_WATER = 8 * 1024 * 1024

interface Slot {
  done: boolean
  chunks: Buffer[] | null
}

export interface ConnectionOptions {
  maxRequestBytes: number
  maxInFlight: number
}

let nextConnectionId = 1

export class Connection {
  readonly id = nextConnectionId++
  private pending: Buffer[] = []
  private pendingBytes = 0
  private frameSize = -1
  private readonly slots: Slot[] = []
  private closed = false
  private paused = false
  readonly remote: string

  constructor(
    private readonly socket: Socket,
    private readonly registry: HandlerRegistry,
    private readonly makeContext: (conn: Connection, header: RequestHeader) => RequestContext,
    private readonly opts: ConnectionOptions,
    private readonly log: Logger,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('drain', () => this.maybeResume())
    socket.on('error', (err) => this.log.debug({ err, remote: this.remote }, 'connection error'))
    socket.on('close', () => { this.closed = true })
  }

  get isClosed(): boolean {
    return this.closed
  }

  close(reason: string, detail?: unknown): void {
    if (this.closed) return
    this.closed = true
    this.log.warn({ remote: this.remote, reason, detail }, 'closing connection')
    this.socket.destroy()
  }

  private onData(chunk: Buffer): void {
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    while (!this.closed) {
      if (this.frameSize < 0) {
        if (this.pendingBytes < 4) return
        const head = this.pending[0]!.length >= 4 ? this.pending[0]! : this.join()
        const size = head.readInt32BE(0)
        if (size < 0 || size > this.opts.maxRequestBytes) {
          this.close(`request of ${size} bytes is larger than socket.request.max.bytes (${this.opts.maxRequestBytes})`)
          return
        }
        if (size < 8) {
          this.close(`request frame of ${size} bytes is too short for a header`)
          return
        }
        this.frameSize = size
      }
      const total = 4 + this.frameSize
      if (this.pendingBytes < total) return
      const first = this.pending[0]!
      let frame: Buffer
      if (first.length >= total) {
        frame = first.subarray(4, total)
        if (first.length === total) this.pending.shift()
        else this.pending[0] = first.subarray(total)
      } else {
        const all = this.join()
        frame = all.subarray(4, total)
        this.pending = all.length > total ? [all.subarray(total)] : []
      }
      this.pendingBytes -= total
      this.frameSize = -1
      this.dispatch(frame)
      if (this.slots.length >= this.opts.maxInFlight) this.pause()
    }
  }

  private join(): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes)
    this.pending = [all]
    return all
  }

  private pause(): void {
    if (!this.paused) {
      this.paused = true
      this.socket.pause()
    }
  }

  private maybeResume(): void {
    if (this.paused && this.slots.length < this.opts.maxInFlight && this.socket.writableLength < WRITE_HIGH_WATER) {
      this.paused = false
      this.socket.resume()
    }
  }

  private dispatch(frame: Buffer): void {
    const r = new Reader(frame)
    let header: RequestHeader
    try {
      header = decodeRequestHeader(r)
    } catch (err) {
      this.close('malformed request header', String(err))
      return
    }
    const handler = this.registry.get(header.apiKey)
    if (!handler) {
      this.close(`unknown API key ${header.apiKey}`)
      return
    }
    if (header.apiVersion < handler.minVersion || header.apiVersion > handler.maxVersion) {
      if (header.apiKey === API_VERSIONS_KEY) {
        // A client newer than us: answer in a v0 body so that it can fall back (KIP-511).
        this.respond(this.newSlot(), header.correlationId, false, ApiVersionsResponse.encode(0, {
          errorCode: ErrorCode.UNSUPPORTED_VERSION.code,
          apiKeys: this.registry.versions(),
        }))
        return
      }
      this.close(`unsupported version ${header.apiVersion} of ${handler.api.name} (supported ${handler.minVersion}-${handler.maxVersion})`)
      return
    }
    const flexible = handler.api.request.isFlexible(header.apiVersion)
    let request: unknown
    try {
      if (flexible) skipHeaderTaggedFields(r)
      request = handler.api.request.decode(header.apiVersion, r)
    } catch (err) {
      if (err instanceof DecodeError) {
        if (header.apiKey === API_VERSIONS_KEY) {
          // ApiVersions must answer even when the body is odd (e.g. a future version's fields)
          request = {}
        } else {
          this.close(`malformed ${handler.api.name} v${header.apiVersion} request`, err.message)
          return
        }
      } else throw err
    }
    const slot = this.newSlot()
    const ctx = this.makeContext(this, header)
    const responseFlexible = responseHeaderIsFlexible(header.apiKey, flexible)
    let result: unknown
    try {
      result = handler.handle(ctx, request as never)
    } catch (err) {
      this.fail(slot, handler.api.name, err)
      return
    }
    const finish = (value: unknown) => {
      if (value === NO_RESPONSE) {
        slot.done = true
        slot.chunks = null
        this.flush()
        return
      }
      let body: Writer
      try {
        body = handler.api.response.encode(header.apiVersion, value as never)
      } catch (err) {
        this.fail(slot, handler.api.name, err)
        return
      }
      this.respond(slot, header.correlationId, responseFlexible, body)
    }
    if (result instanceof Promise) result.then(finish, (err) => this.fail(slot, handler.api.name, err))
    else finish(result)
  }

  private newSlot(): Slot {
    const slot: Slot = { done: false, chunks: null }
    this.slots.push(slot)
    return slot
  }

  /** A handler that throws has a bug or met an unexpected state: log it and drop the connection. */
  private fail(slot: Slot, api: string, err: unknown): void {
    slot.done = true
    if (err instanceof KafkaError) this.close(`${api} failed: ${err.error.name}`, err.message)
    else {
      this.log.error({ err, api, remote: this.remote }, 'request handler failed')
      this.close(`${api} handler error`)
    }
  }

  private respond(slot: Slot, correlationId: number, flexible: boolean, body: Writer): void {
    const head = new Writer(16)
    head.int32(4 + (flexible ? 1 : 0) + body.length)
    encodeResponseHeader(head, correlationId, flexible)
    slot.chunks = [...head.finish(), ...body.finish()]
    slot.done = true
    this.flush()
  }

  private flush(): void {
    if (this.closed) return
    let corked = false
    while (this.slots.length > 0 && this.slots[0]!.done) {
      const slot = this.slots.shift()!
      if (!slot.chunks) continue
      if (!corked) {
        this.socket.cork()
        corked = true
      }
      for (const c of slot.chunks) this.socket.write(c)
    }
    if (corked) this.socket.uncork()
    this.maybeResume()
  }
}
