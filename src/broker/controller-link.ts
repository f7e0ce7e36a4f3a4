// A broker's link to the controller: registers, receives the metadata (a full image when the
// session starts, then every committed change), heartbeats, and forwards admin changes. When the
// controller goes away the broker keeps serving with the image it has, and reconnects — to the
// next endpoint when several controller candidates run (ZooKeeper mode), following a
// NOT_CONTROLLER answer's hint to the active one.

import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { MetadataImage, type MetadataRecord } from '../controller/records.js'
import { ControllerCallError, SocketChannel, type ControllerChannel, type RpcPush } from '../controller/rpc.js'
import { ErrorCode, KafkaError } from '../protocol/errors.js'

export interface ControllerLinkOptions {
  brokerId: number
  rack: string | null
  /** host:port of each controller candidate; ignored when `connect` is given */
  endpoints: string[]
  /** A channel factory for an in-process controller (standalone broker). */
  connect?: () => ControllerChannel
  heartbeatIntervalMs: number
  /** How long a forwarded admin call may wait for a controller. */
  requestTimeoutMs: number
  log: Logger
}

export type MetadataChange = (records: MetadataRecord[], reset: boolean) => void

function parseEndpoint(e: string): { host: string; port: number } {
  const i = e.lastIndexOf(':')
  return { host: e.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(e.slice(i + 1)) }
}

export class ControllerLink {
  image = new MetadataImage()
  brokerEpoch = -1
  controllerId = -1
  /** Whether the controller last said this broker is fenced. */
  fenced = true
  private channel: ControllerChannel | null = null
  private connecting: Promise<void> | null = null
  private readonly incarnation = randomBytes(8).toString('hex')
  private endpointIndex = 0
  private preferred: string | null = null
  private heartbeatTimer: NodeJS.Timeout | null = null
  private closed = false
  private address = { host: '127.0.0.1', port: 0 }
  private readonly changeListeners: MetadataChange[] = []

  constructor(private readonly opts: ControllerLinkOptions) {}

  onChange(fn: MetadataChange): void {
    this.changeListeners.push(fn)
  }

  get connected(): boolean {
    return this.channel !== null
  }

  /** Registers with the controller and resolves once the first metadata image has arrived. */
  async start(host: string, port: number, timeoutMs: number): Promise<void> {
    this.address = { host, port }
    const deadline = Date.now() + timeoutMs
    let lastError: Error | null = null
    while (!this.closed) {
      try {
        await this.ensureConnected()
        break
      } catch (err) {
        lastError = err as Error
        if (Date.now() > deadline) throw new Error(`cannot reach a controller at ${this.opts.endpoints.join(',') || '(in process)'}: ${lastError.message}`)
        await new Promise((r) => setTimeout(r, 200))
      }
    }
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.opts.heartbeatIntervalMs)
    this.heartbeatTimer.unref()
  }

  private ensureConnected(): Promise<void> {
    if (this.channel) return Promise.resolve()
    if (!this.connecting) {
      this.connecting = this.connect().finally(() => { this.connecting = null })
    }
    return this.connecting
  }

  private async openChannel(): Promise<ControllerChannel> {
    if (this.opts.connect) return this.opts.connect()
    const endpoints = this.opts.endpoints
    const target = this.preferred ?? endpoints[this.endpointIndex++ % endpoints.length]!
    this.preferred = null
    const { host, port } = parseEndpoint(target)
    return SocketChannel.open(host, port, 2000)
  }

  private async connect(): Promise<void> {
    const channel = await this.openChannel()
    let firstImage: (() => void) | null = null
    const gotImage = new Promise<void>((r) => (firstImage = r))
    channel.onPush((push: RpcPush) => {
      if (push.reset) {
        const image = new MetadataImage()
        for (const r of push.records) image.apply(r)
        this.image = image
      } else for (const r of push.records) this.image.apply(r)
      const me = this.image.brokers.get(this.opts.brokerId)
      if (me && me.epoch === this.brokerEpoch) this.fenced = me.fenced
      for (const l of this.changeListeners) l(push.records, push.reset)
      firstImage?.()
      firstImage = null
    })
    channel.onClose(() => {
      if (this.channel === channel) {
        this.channel = null
        if (!this.closed) {
          this.opts.log.warn({ controller: this.controllerId }, 'lost the controller; serving with the metadata we have, reconnecting')
          setTimeout(() => void this.reconnect(), 100).unref()
        }
      }
    })
    try {
      const reg = (await channel.call('register', {
        brokerId: this.opts.brokerId, host: this.address.host, port: this.address.port, rack: this.opts.rack, incarnation: this.incarnation,
      })) as { brokerEpoch: number; clusterId: string }
      this.brokerEpoch = reg.brokerEpoch
      const sub = (await channel.call('subscribe', {})) as { controllerId: number }
      this.controllerId = sub.controllerId
      await gotImage
      this.fenced = this.image.brokers.get(this.opts.brokerId)?.fenced ?? true
      this.channel = channel
    } catch (err) {
      channel.close()
      if (err instanceof ControllerCallError && err.active) this.preferred = err.active
      throw err
    }
  }

  private async reconnect(): Promise<void> {
    let delay = 100
    while (!this.closed && !this.channel) {
      try {
        await this.ensureConnected()
        this.opts.log.info({ controller: this.controllerId, brokerEpoch: this.brokerEpoch }, 'registered with the controller again')
        return
      } catch {
        await new Promise((r) => setTimeout(r, delay))
        delay = Math.min(delay * 2, 1000)
      }
    }
  }

  private async heartbeat(): Promise<void> {
    const channel = this.channel
    if (!channel) return
    try {
      const r = (await channel.call('heartbeat', { brokerId: this.opts.brokerId, brokerEpoch: this.brokerEpoch, wantShutdown: false })) as { fenced: boolean }
      if (r.fenced && !this.closed && this.channel === channel) {
        // The controller fenced us (a session timeout while we were unreachable): register again.
        this.opts.log.warn({ brokerEpoch: this.brokerEpoch }, 'fenced by the controller; registering again')
        this.channel = null
        channel.close()
        void this.reconnect()
      }
    } catch {
      // the close handler reconnects
    }
  }

  /**
   * Forwards a change to the controller, waiting up to the request timeout for one to be
   * reachable. Its metadata pushes arrive before its answer, so the image already shows it.
   */
  async call<T>(method: string, params: Record<string, unknown>): Promise<T> {
    const deadline = Date.now() + this.opts.requestTimeoutMs
    for (;;) {
      try {
        await this.ensureConnected()
        return (await this.channel!.call(method, params)) as T
      } catch (err) {
        const retriable = !(err instanceof KafkaError) || err.code === ErrorCode.NOT_CONTROLLER.code
        if (!retriable || this.closed) throw err
        if (Date.now() > deadline) throw new KafkaError(ErrorCode.REQUEST_TIMED_OUT, `no controller answered within ${this.opts.requestTimeoutMs} ms: ${(err as Error).message}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }

  /**
   * Controlled shutdown: asks the controller to move leadership away and waits until it says
   * this broker leads nothing that could move, or `timeoutMs` passes.
   */
  async controlledShutdown(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline && this.channel) {
      try {
        const r = (await this.channel.call('heartbeat', { brokerId: this.opts.brokerId, brokerEpoch: this.brokerEpoch, wantShutdown: true })) as { shutdownReady: boolean }
        if (r.shutdownReady) return true
      } catch {
        return false
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    return false
  }

  close(): void {
    this.closed = true
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer)
    this.channel?.close()
    this.channel = null
  }
}
