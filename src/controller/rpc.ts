// How brokers talk to the controller: one connection per broker carrying requests and their
// answers plus the metadata records the controller pushes as it commits them. Frames are a 4-byte
// length and a JSON body; the traffic is small (registrations, heartbeats, metadata changes), and
// JSON keeps it readable in a packet capture. The connection is also the broker's session: when
// it closes (the process died) the controller fences the broker after a short grace.
//
// The same session logic serves a socket (a separate controller process) and an in-process
// channel (a standalone broker that is its own controller), so brokers behave the same either way.

import { createServer, connect, type Server, type Socket } from 'node:net'
import { ErrorCode, KafkaError } from '../protocol/errors.js'
import type { Controller } from './controller.js'
import type { MetadataRecord } from './records.js'

/** Frames above this are refused: metadata snapshots of 100 000 partitions stay well under it. */
const MAX_FRAME = 256 * 1024 * 1024

export interface RpcRequest { id: number; method: string; params: Record<string, unknown> }
export interface RpcResponse { id: number; result?: unknown; error?: { code: number; message: string; active?: string } }
export interface RpcPush { push: 'metadata'; reset: boolean; records: MetadataRecord[] }
export type RpcMessage = RpcRequest | RpcResponse | RpcPush

/** The client end of a channel to the controller. */
export interface ControllerChannel {
  call(method: string, params: Record<string, unknown>): Promise<unknown>
  onPush(fn: (push: RpcPush) => void): void
  onClose(fn: (err?: Error) => void): void
  close(): void
}

/** The controller's end of one broker's session. */
export class ControllerSession {
  private brokerId = -1
  private unsubscribe: (() => void) | null = null
  private closed = false

  constructor(private readonly controller: Controller, private readonly send: (m: RpcMessage) => void, private readonly activeEndpoint: () => Promise<string | null>) {}

  async handle(req: RpcRequest): Promise<void> {
    try {
      const result = await this.dispatch(req.method, req.params)
      if (!this.closed) this.send({ id: req.id, result: result ?? null })
    } catch (err) {
      if (this.closed) return
      if (err instanceof KafkaError) {
        const active = err.code === ErrorCode.NOT_CONTROLLER.code ? await this.activeEndpoint().catch(() => null) : null
        this.send({ id: req.id, error: { code: err.code, message: err.message, ...(active ? { active } : {}) } })
      } else this.send({ id: req.id, error: { code: ErrorCode.UNKNOWN_SERVER_ERROR.code, message: (err as Error).message } })
    }
  }

  private async dispatch(method: string, p: Record<string, unknown>): Promise<unknown> {
    const c = this.controller
    if (!c.isActive) throw new KafkaError(ErrorCode.NOT_CONTROLLER, 'not the active controller')
    switch (method) {
      case 'register': {
        const brokerId = p.brokerId as number
        const out = await c.registerBroker({ brokerId, host: p.host as string, port: p.port as number, rack: (p.rack as string | null) ?? null, incarnation: p.incarnation as string })
        if (this.brokerId !== brokerId) {
          if (this.brokerId >= 0) c.sessionConnection(this.brokerId, false)
          this.brokerId = brokerId
          c.sessionConnection(brokerId, true)
        }
        return out
      }
      case 'subscribe': {
        this.unsubscribe?.()
        this.send({ push: 'metadata', reset: true, records: c.image.toRecords() })
        this.unsubscribe = c.subscribe((records) => { if (!this.closed) this.send({ push: 'metadata', reset: false, records }) })
        return { controllerId: c.candidate.id, controllerEpoch: c.epoch }
      }
      case 'heartbeat':
        return c.heartbeat(p.brokerId as number, p.brokerEpoch as number, p.wantShutdown === true)
      case 'createTopics':
        return c.createTopics(p.topics as never, p.validateOnly === true)
      case 'deleteTopics':
        return c.deleteTopics(p.names as string[])
      case 'createPartitions':
        return c.createPartitions(p.topic as string, p.count as number, p.validateOnly === true, p.assignments as number[][] | undefined)
      case 'setConfigs':
        return c.setConfigs(p.topic as string, p.configs as Record<string, string>, p.validateOnly === true)
      case 'alterBrokerConfigs':
        return c.alterBrokerConfigs(p.resource as string, p.changes as Record<string, string | null>, p.replace === true, p.validateOnly === true)
      case 'alterPartition':
        return c.alterPartition(p as never)
      case 'electLeaders':
        return c.electLeaders(p.type as 0 | 1, (p.partitions as never) ?? null)
      case 'alterReassignments':
        return c.alterReassignments(p.changes as never)
      case 'listReassignments':
        return c.listReassignments()
      case 'allocateProducerIds':
        return c.allocateProducerIds()
      default:
        throw new KafkaError(ErrorCode.INVALID_REQUEST, `unknown controller method ${method}`)
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.unsubscribe?.()
    if (this.brokerId >= 0) this.controller.sessionConnection(this.brokerId, false)
  }
}

/** Length-prefixed JSON frames over a socket. */
export class FramedSocket {
  private chunks: Buffer[] = []
  private buffered = 0

  constructor(readonly socket: Socket, onMessage: (m: RpcMessage) => void, onError: (err: Error) => void) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk)
      this.buffered += chunk.length
      while (this.buffered >= 4) {
        const head = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
        this.chunks = [head]
        const size = head.readUInt32BE(0)
        if (size > MAX_FRAME) {
          onError(new Error(`controller frame of ${size} bytes exceeds ${MAX_FRAME}`))
          socket.destroy()
          return
        }
        if (head.length < 4 + size) break
        const body = head.subarray(4, 4 + size)
        const rest = head.subarray(4 + size)
        this.chunks = rest.length > 0 ? [rest] : []
        this.buffered = rest.length
        let message: RpcMessage
        try {
          message = JSON.parse(body.toString('utf8')) as RpcMessage
        } catch (err) {
          onError(new Error(`bad controller frame: ${(err as Error).message}`))
          socket.destroy()
          return
        }
        onMessage(message)
      }
    })
  }

  send(m: RpcMessage): void {
    if (this.socket.destroyed) return
    const body = Buffer.from(JSON.stringify(m), 'utf8')
    const head = Buffer.allocUnsafe(4)
    head.writeUInt32BE(body.length, 0)
    this.socket.write(Buffer.concat([head, body]))
  }
}

/** Serves controller sessions on a TCP listener. */
export class ControllerServer {
  private server: Server | null = null
  private readonly sockets = new Set<Socket>()
  port = 0

  constructor(private readonly controller: Controller, private readonly activeEndpoint: () => Promise<string | null>) {}

  async listen(host: string, port: number): Promise<void> {
    this.server = createServer((socket) => {
      this.sockets.add(socket)
      let session: ControllerSession | null = null
      const framed = new FramedSocket(socket, (m) => { if ('method' in m) void session!.handle(m) }, () => {})
      session = new ControllerSession(this.controller, (m) => framed.send(m), this.activeEndpoint)
      socket.on('error', () => {})
      socket.on('close', () => {
        this.sockets.delete(socket)
        session!.close()
      })
    })
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject)
      this.server!.listen(port, host, () => resolve())
    })
    const addr = this.server.address()
    if (addr && typeof addr === 'object') this.port = addr.port
  }

  /** Drops every session (a deposed controller: brokers go find the new one). */
  dropSessions(): void {
    for (const s of this.sockets) s.destroy()
  }

  async close(): Promise<void> {
    this.dropSessions()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}

/** A remote controller error, as the client sees it. */
export class ControllerCallError extends KafkaError {
  constructor(code: number, message: string, readonly active: string | null) {
    super(Object.values(ErrorCode).find((e) => e.code === code) ?? ErrorCode.UNKNOWN_SERVER_ERROR, message)
  }
}

abstract class BaseChannel implements ControllerChannel {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private pushHandler: (p: RpcPush) => void = () => {}
  private closeHandlers: ((err?: Error) => void)[] = []
  protected ended = false

  protected abstract transmit(m: RpcRequest): void

  call(method: string, params: Record<string, unknown>): Promise<unknown> {
    if (this.ended) return Promise.reject(new KafkaError(ErrorCode.NOT_CONTROLLER, 'the controller connection is closed'))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.transmit({ id, method, params })
    })
  }

  protected receive(m: RpcMessage): void {
    if ('push' in m) return this.pushHandler(m)
    if (!('id' in m)) return
    const p = this.pending.get(m.id)
    if (!p) return
    this.pending.delete(m.id)
    const r = m as RpcResponse
    if (r.error) p.reject(new ControllerCallError(r.error.code, r.error.message, r.error.active ?? null))
    else p.resolve(r.result)
  }

  protected ended_(err?: Error): void {
    if (this.ended) return
    this.ended = true
    for (const p of this.pending.values()) p.reject(new KafkaError(ErrorCode.NOT_CONTROLLER, `the controller connection closed${err ? `: ${err.message}` : ''}`))
    this.pending.clear()
    for (const h of this.closeHandlers) h(err)
  }

  onPush(fn: (push: RpcPush) => void): void {
    this.pushHandler = fn
  }

  onClose(fn: (err?: Error) => void): void {
    this.closeHandlers.push(fn)
  }

  abstract close(): void
}

/** A channel over TCP to a controller process. */
export class SocketChannel extends BaseChannel {
  private constructor(private readonly framed: FramedSocket) {
    super()
  }

  static open(host: string, port: number, timeoutMs: number): Promise<SocketChannel> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port })
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`controller ${host}:${port}: no answer within ${timeoutMs} ms`)) }, timeoutMs)
      let channel: SocketChannel | null = null
      socket.once('connect', () => {
        clearTimeout(timer)
        resolve(channel!)
      })
      socket.on('error', (err) => {
        clearTimeout(timer)
        if (channel && !channel.ended) channel.ended_(err)
        reject(new Error(`controller ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`))
      })
      socket.on('close', () => channel?.ended_())
      const framed = new FramedSocket(socket, (m) => channel!.receive(m), (err) => channel?.ended_(err))
      channel = new SocketChannel(framed)
    })
  }

  protected transmit(m: RpcRequest): void {
    this.framed.send(m)
  }

  close(): void {
    this.framed.socket.destroy()
    this.ended_()
  }
}

/** A channel to a controller in the same process (a standalone broker). Messages are delivered asynchronously, in order. */
export class InProcessChannel extends BaseChannel {
  private readonly session: ControllerSession

  constructor(controller: Controller) {
    super()
    this.session = new ControllerSession(controller, (m) => queueMicrotask(() => this.receive(m)), async () => null)
  }

  protected transmit(m: RpcRequest): void {
    queueMicrotask(() => void this.session.handle(m))
  }

  close(): void {
    this.session.close()
    this.ended_()
  }
}
