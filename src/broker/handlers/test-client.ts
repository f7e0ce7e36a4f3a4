// Our own minimal Kafka client, for tests only: it speaks to a broker with the message
// declarations of src/protocol, so that tests can exercise APIs (and versions) that KafkaJS and
// @platformatic/kafka do not expose. It is not a reference for other clients' behaviour: a
// request it encodes is only as right as our own declarations.

import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import type { Api } from '../../protocol/apis.js'
import { decodeResponseHeader, encodeRequestHeader, responseHeaderIsFlexible } from '../../protocol/headers.js'
import { Reader, Writer } from '../../protocol/primitives.js'
import type { DecodedStruct, Fields, InputStruct } from '../../protocol/schema.js'

export class TestClient {
  private buffered: Buffer = Buffer.alloc(0)
  private nextCorrelationId = 1
  private readonly waiting = new Map<number, (frame: Buffer) => void>()
  private readonly rejecters = new Map<number, (err: Error) => void>()
  private failure: Error | null = null

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (err) => this.fail(err))
    socket.on('close', () => this.fail(new Error('connection closed by the broker')))
  }

  /** Runs `fn` with a client connected to `target` (a Broker), closed after. */
  static async with<T>(target: { host: string; port: number }, fn: (c: TestClient) => Promise<T>): Promise<T> {
    const c = await TestClient.connect(target.host, target.port)
    try {
      return await fn(c)
    } finally {
      await c.close()
    }
  }

  static connect(host: string, port: number): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.off('error', reject)
        resolve(new TestClient(socket))
      })
      socket.once('error', reject)
    })
  }

  /** Sends one request at `version` and resolves with the decoded response body. */
  request<Q extends Fields, S extends Fields>(api: Api<Q, S>, version: number, body: InputStruct<Q>, clientId: string | null = 'fjord-test'): Promise<DecodedStruct<S>> {
    if (this.failure) return Promise.reject(this.failure)
    const correlationId = this.nextCorrelationId++
    const flexible = api.request.isFlexible(version)
    const w = new Writer()
    const patchSize = w.reserveInt32()
    encodeRequestHeader(w, { apiKey: api.key, apiVersion: version, correlationId, clientId }, flexible)
    api.request.encode(version, body, w)
    patchSize(w.length - 4)
    return new Promise((resolve, reject) => {
      this.waiting.set(correlationId, (frame) => {
        try {
          const r = new Reader(frame)
          const id = decodeResponseHeader(r, responseHeaderIsFlexible(api.key, flexible))
          if (id !== correlationId) throw new Error(`correlation id ${id}, expected ${correlationId}`)
          resolve(api.response.decode(version, r))
        } catch (err) {
          reject(err as Error)
        }
      })
      this.rejecters.set(correlationId, reject)
      for (const chunk of w.finish()) this.socket.write(chunk)
    })
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk])
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0)
      if (this.buffered.length < 4 + size) return
      const frame = this.buffered.subarray(4, 4 + size)
      this.buffered = this.buffered.subarray(4 + size)
      const correlationId = frame.readInt32BE(0)
      const handler = this.waiting.get(correlationId)
      this.waiting.delete(correlationId)
      this.rejecters.delete(correlationId)
      handler?.(frame)
    }
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err
    for (const reject of this.rejecters.values()) reject(err)
    this.rejecters.clear()
    this.waiting.clear()
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve()
      this.socket.once('close', () => resolve())
      this.socket.end()
    })
  }
}

/** Every Kafka error code carried by a client error (KafkaJS `.code`, platformatic `.apiCode`), nested ones included. */
export function codesOf(err: unknown): number[] {
  const out: number[] = []
  const seen = new Set<unknown>()
  const walk = (e: unknown): void => {
    if (!e || typeof e !== 'object' || seen.has(e)) return
    seen.add(e)
    const o = e as Record<string, unknown>
    if (typeof o.apiCode === 'number') out.push(o.apiCode)
    else if (typeof o.code === 'number') out.push(o.code)
    for (const k of ['errors', 'cause', 'originalError', 'partitions', 'error']) {
      const v = o[k]
      if (Array.isArray(v)) v.forEach(walk)
      else walk(v)
    }
  }
  walk(err)
  return out
}

/** Asserts that `p` rejects with a client error carrying Kafka error `code`; returns the error. */
export async function rejectsWith(p: Promise<unknown>, code: number): Promise<unknown> {
  try {
    await p
  } catch (err) {
    assert.ok(codesOf(err).includes(code), `expected error code ${code}, got ${JSON.stringify(codesOf(err))}: ${String(err)}`)
    return err
  }
  assert.fail(`expected a rejection with error code ${code}`)
}
