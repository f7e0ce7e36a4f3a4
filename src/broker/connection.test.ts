// Bad input at the connection level: the broker answers or closes the connection with a log
// line, and keeps serving everyone else.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { Broker } from './broker.js'
import { resolveSettings } from './config.js'
import { Reader, Writer } from '../protocol/primitives.js'
import { encodeRequestHeader, decodeResponseHeader } from '../protocol/headers.js'
import { Apis } from '../protocol/apis.js'

let broker: Broker
let dir: string

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fjord-conn-'))
  broker = await Broker.open(resolveSettings({ listeners: '127.0.0.1:0', 'log.dirs': dir, 'socket.request.max.bytes': String(1024 * 1024) }, {}), pino({ level: 'silent' }))
  await broker.listen()
})

after(async () => {
  await broker.close()
  rmSync(dir, { recursive: true, force: true })
})

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(broker.port, '127.0.0.1', () => resolve(s))
    s.on('error', reject)
  })
}

/** Resolves with everything received until the broker closes the connection. */
function untilClosed(s: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    s.on('data', (c) => chunks.push(c))
    s.on('close', () => resolve(Buffer.concat(chunks)))
  })
}

function frame(body: Buffer): Buffer {
  const size = Buffer.alloc(4)
  size.writeInt32BE(body.length)
  return Buffer.concat([size, body])
}

function request(apiKey: number, apiVersion: number, correlationId: number, body: Buffer, flexible = false): Buffer {
  const w = new Writer()
  encodeRequestHeader(w, { apiKey, apiVersion, correlationId, clientId: 'bad-input-test' }, flexible)
  w.bytes(body)
  return frame(w.toBuffer())
}

/** Sends frames and reads `count` responses (size-prefixed). */
async function exchange(s: Socket, data: Buffer, count: number): Promise<Buffer[]> {
  const out: Buffer[] = []
  let pending = Buffer.alloc(0)
  return new Promise((resolve, reject) => {
    s.on('data', (c) => {
      pending = Buffer.concat([pending, c])
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const n = pending.readInt32BE(0)
        out.push(pending.subarray(4, 4 + n))
        pending = pending.subarray(4 + n)
        if (out.length === count) resolve(out)
      }
    })
    s.on('close', () => reject(new Error(`closed after ${out.length} responses`)))
    s.write(data)
  })
}

async function stillServes(): Promise<void> {
  const s = await open()
  const [resp] = await exchange(s, request(18, 0, 1, Buffer.alloc(0)), 1)
  const r = new Reader(resp!)
  assert.equal(decodeResponseHeader(r, false), 1)
  const body = Apis.ApiVersions.response.decode(0, r)
  assert.equal(body.errorCode, 0)
  s.destroy()
}

test('an oversized length prefix closes the connection without allocating it', async () => {
  const s = await open()
  const closed = untilClosed(s)
  const head = Buffer.alloc(4)
  head.writeInt32BE(2_000_000_000)
  s.write(head)
  assert.equal((await closed).length, 0)
  await stillServes()
})

test('a negative or tiny length prefix closes the connection', async () => {
  for (const size of [-5, 3]) {
    const s = await open()
    const closed = untilClosed(s)
    const head = Buffer.alloc(8)
    head.writeInt32BE(size)
    s.write(head)
    await closed
  }
  await stillServes()
})

test('an unknown API key closes the connection', async () => {
  const s = await open()
  const closed = untilClosed(s)
  s.write(request(9999, 0, 7, Buffer.alloc(0)))
  await closed
  await stillServes()
})

test('an ApiVersions version newer than ours gets UNSUPPORTED_VERSION and the list, in a v0 body', async () => {
  const s = await open()
  const [resp] = await exchange(s, request(18, 99, 42, Buffer.from([0, 0, 0])), 1)
  const r = new Reader(resp!)
  assert.equal(decodeResponseHeader(r, false), 42)
  const body = Apis.ApiVersions.response.decode(0, r)
  assert.equal(body.errorCode, 35)
  assert.ok(body.apiKeys.some((k) => k.apiKey === 0))
  s.destroy()
})

test('an unsupported version of another API closes the connection', async () => {
  const s = await open()
  const closed = untilClosed(s)
  s.write(request(3, 999, 1, Buffer.alloc(0)))
  await closed
  await stillServes()
})

test('a truncated body closes the connection; the broker stays up', async () => {
  const s = await open()
  const closed = untilClosed(s)
  // Metadata v1 with a topic array claiming 1000 entries and no bytes after it
  s.write(request(3, 1, 1, Buffer.from([0, 0, 0x03, 0xe8])))
  await closed
  await stillServes()
})

test('random garbage frames never take the broker down', async () => {
  let seed = 12345
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
  for (let i = 0; i < 100; i++) {
    const s = await open()
    const closed = untilClosed(s)
    const body = Buffer.alloc(8 + Math.floor(rand() * 64))
    for (let j = 0; j < body.length; j++) body[j] = Math.floor(rand() * 256)
    body.writeInt16BE(Math.floor(rand() * 70), 0) // mostly real API keys
    body.writeInt16BE(Math.floor(rand() * 14), 2)
    s.write(frame(body))
    setTimeout(() => s.destroy(), 100).unref()
    await closed
  }
  await stillServes()
})

test('pipelined requests are answered in request order', async () => {
  const s = await open()
  const frames = []
  for (let i = 0; i < 50; i++) frames.push(i % 2 === 0 ? request(18, 0, i, Buffer.alloc(0)) : request(3, 1, i, Buffer.from([0, 0, 0, 0])))
  const responses = await exchange(s, Buffer.concat(frames), 50)
  responses.forEach((resp, i) => assert.equal(resp.readInt32BE(0), i))
  s.destroy()
})
