// The null broker: the ceiling a Node.js Kafka broker can reach on this machine. It speaks just
// enough of the protocol for librdkafka to produce and consume at full speed, and does no work a
// real broker would: Produce is acknowledged with incrementing offsets and the data is dropped;
// Fetch answers with a pre-built batch of 1 KiB records (copies of one template, each with the
// base offset the consumer asked for), so a consumer reads as fast as the wire allows.
//
// One exception makes end-to-end latency measurable: topics whose name starts with `e2e` are kept
// in memory (the produced batches, offsets rewritten) and served back, with long-poll Fetch that
// answers as soon as data arrives. That is the in-memory baseline for the latency figure.
//
// Versions (all non-flexible except ApiVersions v3, whose response header is v0 anyway):
// Produce 3-7, Fetch 4-11, ListOffsets 1-5, Metadata 1-8, ApiVersions 0-3, CreateTopics 0-4.
//
// Run on its own: node dist/bench/null-broker.js [--listen 127.0.0.1:0] [--partitions 6]
// It prints "null broker ready: bootstrap 127.0.0.1:<port>".

import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { crc32c } from '@node-rs/crc32'
import { Reader, Writer } from '../src/protocol/primitives.js'

const SUPPORTED: ReadonlyArray<readonly [key: number, min: number, max: number]> = [
  [0, 3, 7], // Produce
  [1, 4, 11], // Fetch
  [2, 1, 5], // ListOffsets
  [3, 1, 8], // Metadata
  [18, 0, 3], // ApiVersions
  [19, 0, 4], // CreateTopics
]

const UNSUPPORTED_VERSION = 35
const HUGE_OFFSET = 2 ** 40 // "latest" of a synthetic partition: the consumer never reaches it

export interface NullBrokerOptions {
  host?: string
  port?: number
  /** Partitions of a topic nobody created explicitly (Metadata for an unknown topic). */
  partitions?: number
  recordSize?: number
  /** Records in the pre-built batch; a Fetch sends as many copies as fit. */
  recordsPerBatch?: number
  memoryTopicPrefix?: string
}

export interface NullBroker {
  host: string
  port: number
  close(): Promise<void>
}

interface StoredBatch {
  base: number
  last: number
  buf: Buffer
}

interface PartitionState {
  next: number
  start: number
  batches: StoredBatch[] // memory topics only
  bytes: number
}

interface TopicState {
  name: string
  memory: boolean
  partitions: PartitionState[]
  waiters: Set<() => void>
}

/** Builds one magic-v2 batch of `count` records of `size` bytes; base offset 0. */
export function buildTemplateBatch(count: number, size: number): Buffer {
  const value = Buffer.alloc(size, 0x78)
  const w = new Writer(count * (size + 16) + 128)
  for (let i = 0; i < count; i++) {
    const body = new Writer(size + 16)
    body.int8(0).varlong(0).varint(i).varint(-1).varint(size).bytes(value).varint(0)
    const bodyBuf = body.toBuffer()
    w.varint(bodyBuf.length).bytes(bodyBuf)
  }
  const records = w.toBuffer()
  const batch = Buffer.alloc(61 + records.length)
  const now = Date.now()
  batch.writeBigInt64BE(0n, 0) // base offset
  batch.writeInt32BE(batch.length - 12, 8) // batch length
  batch.writeInt32BE(0, 12) // partition leader epoch
  batch.writeInt8(2, 16) // magic
  batch.writeInt16BE(0, 21) // attributes: no compression, create time
  batch.writeInt32BE(count - 1, 23) // last offset delta
  batch.writeBigInt64BE(BigInt(now), 27)
  batch.writeBigInt64BE(BigInt(now), 35)
  batch.writeBigInt64BE(-1n, 43) // producer id
  batch.writeInt16BE(-1, 51)
  batch.writeInt32BE(-1, 53)
  batch.writeInt32BE(count, 57)
  records.copy(batch, 61)
  batch.writeUInt32BE(crc32c(batch.subarray(21)) >>> 0, 17)
  return batch
}

function readString(r: Reader): string | null {
  const n = r.int16()
  return n < 0 ? null : r.stringOfLength(r.count(n))
}

function writeString(w: Writer, s: string | null): void {
  if (s === null) {
    w.int16(-1)
    return
  }
  const n = Buffer.byteLength(s)
  w.int16(n).utf8(s, n)
}

function writeInt64(buf: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / 2 ** 32)
  buf.writeInt32BE(hi, at)
  buf.writeUInt32BE(v - hi * 2 ** 32, at + 4)
}

interface Slot {
  out: Buffer[] | null // null while pending
}

export function startNullBroker(opts: NullBrokerOptions = {}): Promise<NullBroker> {
  const host = opts.host ?? '127.0.0.1'
  const defaultPartitions = opts.partitions ?? 6
  const memoryPrefix = opts.memoryTopicPrefix ?? 'e2e'
  const template = buildTemplateBatch(opts.recordsPerBatch ?? 64, opts.recordSize ?? 1024)
  const templateBody = template.subarray(12) // everything after base offset and length
  const templateRecords = template.readInt32BE(57)
  const topics = new Map<string, TopicState>()
  let port = 0

  function topic(name: string, partitions = defaultPartitions): TopicState {
    let t = topics.get(name)
    if (!t) {
      t = { name, memory: name.startsWith(memoryPrefix), partitions: [], waiters: new Set() }
      for (let i = 0; i < partitions; i++) t.partitions.push({ next: 0, start: 0, batches: [], bytes: 0 })
      topics.set(name, t)
    }
    return t
  }

  function frame(correlationId: number, body: (w: Writer) => void): Buffer[] {
    const w = new Writer(256)
    const setSize = w.reserveInt32()
    w.int32(correlationId)
    body(w)
    setSize(w.length - 4)
    return w.finish()
  }

  function apiVersions(version: number, w: Writer): void {
    if (version > 3) {
      // unknown version: v0 body with the error and the full list
      w.int16(UNSUPPORTED_VERSION).int32(SUPPORTED.length)
      for (const [k, min, max] of SUPPORTED) w.int16(k).int16(min).int16(max)
      return
    }
    w.int16(0)
    if (version >= 3) {
      w.uvarint(SUPPORTED.length + 1)
      for (const [k, min, max] of SUPPORTED) w.int16(k).int16(min).int16(max).uvarint(0)
      w.int32(0).uvarint(0)
    } else {
      w.int32(SUPPORTED.length)
      for (const [k, min, max] of SUPPORTED) w.int16(k).int16(min).int16(max)
      if (version >= 1) w.int32(0)
    }
  }

  function metadata(version: number, r: Reader, w: Writer): void {
    const n = r.int32()
    let list: TopicState[]
    if (n < 0) list = [...topics.values()]
    else {
      list = []
      const count = r.count(n, 2)
      for (let i = 0; i < count; i++) list.push(topic(readString(r) ?? ''))
    }
    if (version >= 3) w.int32(0)
    w.int32(1).int32(0)
    writeString(w, host)
    w.int32(port)
    writeString(w, null) // rack
    if (version >= 2) writeString(w, 'null-broker')
    w.int32(0) // controller
    w.int32(list.length)
    for (const t of list) {
      w.int16(0)
      writeString(w, t.name)
      w.bool(false)
      w.int32(t.partitions.length)
      for (let p = 0; p < t.partitions.length; p++) {
        w.int16(0).int32(p).int32(0)
        if (version >= 7) w.int32(0)
        w.int32(1).int32(0) // replicas
        w.int32(1).int32(0) // isr
        if (version >= 5) w.int32(0) // offline
      }
      if (version >= 8) w.int32(-2147483648)
    }
    if (version >= 8) w.int32(-2147483648)
  }

  function createTopics(version: number, r: Reader, w: Writer): void {
    const n = r.int32()
    const names: string[] = []
    for (let i = 0; i < n; i++) {
      const name = readString(r) ?? ''
      const partitions = r.int32()
      r.int16()
      const assignments = r.int32()
      for (let a = 0; a < assignments; a++) {
        r.int32()
        const b = r.int32()
        for (let j = 0; j < b; j++) r.int32()
      }
      const configs = r.int32()
      for (let c = 0; c < configs; c++) {
        readString(r)
        readString(r)
      }
      topics.delete(name)
      topic(name, partitions > 0 ? partitions : defaultPartitions)
      names.push(name)
    }
    if (version >= 2) w.int32(0)
    w.int32(names.length)
    for (const name of names) {
      writeString(w, name)
      w.int16(0)
      if (version >= 1) writeString(w, null)
    }
  }

  function produce(version: number, r: Reader, w: Writer | null): void {
    readString(r) // transactional id
    r.int16() // acks (0 is handled by the caller)
    r.int32()
    const nt = r.int32()
    const results: Array<[string, Array<[number, number, number]>]> = []
    for (let i = 0; i < nt; i++) {
      const t = topic(readString(r) ?? '')
      const np = r.int32()
      const parts: Array<[number, number, number]> = []
      for (let j = 0; j < np; j++) {
        const index = r.int32()
        const len = r.int32()
        const records = len < 0 ? Buffer.alloc(0) : r.slice(len)
        const p = t.partitions[index]
        if (!p) {
          parts.push([index, 3, -1]) // UNKNOWN_TOPIC_OR_PARTITION
          continue
        }
        const base = p.next
        for (let at = 0; at + 61 <= records.length; ) {
          const size = records.readInt32BE(at + 8) + 12
          const count = records.readInt32BE(at + 57)
          if (t.memory) {
            const buf = records.subarray(at, at + size)
            writeInt64(buf, 0, p.next)
            p.batches.push({ base: p.next, last: p.next + count - 1, buf })
            p.bytes += size
            while (p.bytes > 256 * 1024 * 1024 && p.batches.length > 1) {
              const old = p.batches.shift()!
              p.bytes -= old.buf.length
              p.start = old.last + 1
            }
          }
          p.next += count
          at += size
        }
        parts.push([index, 0, base])
      }
      results.push([t.name, parts])
      if (t.memory && t.waiters.size > 0) {
        const waiters = [...t.waiters]
        t.waiters.clear()
        for (const wake of waiters) wake()
      }
    }
    if (!w) return
    w.int32(results.length)
    for (const [name, parts] of results) {
      writeString(w, name)
      w.int32(parts.length)
      for (const [index, error, base] of parts) {
        w.int32(index).int16(error).int64(base).int64(-1)
        if (version >= 5) w.int64(0)
      }
    }
    w.int32(0)
  }

  interface FetchPart {
    index: number
    offset: number
    maxBytes: number
  }
  interface FetchReq {
    version: number
    maxWait: number
    maxBytes: number
    topics: Array<{ name: string; parts: FetchPart[] }>
  }

  function parseFetch(version: number, r: Reader): FetchReq {
    r.int32() // replica
    const maxWait = r.int32()
    r.int32() // min bytes
    const maxBytes = r.int32()
    r.int8() // isolation
    if (version >= 7) {
      r.int32()
      r.int32()
    }
    const nt = r.int32()
    const req: FetchReq = { version, maxWait, maxBytes, topics: [] }
    for (let i = 0; i < nt; i++) {
      const name = readString(r) ?? ''
      const np = r.int32()
      const parts: FetchPart[] = []
      for (let j = 0; j < np; j++) {
        const index = r.int32()
        if (version >= 9) r.int32()
        const offset = r.int64()
        if (version >= 5) r.int64()
        const maxB = r.int32()
        parts.push({ index, offset, maxBytes: maxB })
      }
      req.topics.push({ name, parts })
    }
    return req
  }

  /** Returns false when a memory topic has nothing to give (the caller may park the fetch). */
  function fetchBody(req: FetchReq, w: Writer, force: boolean): boolean {
    const { version } = req
    let budget = req.maxBytes > 0 ? req.maxBytes : 50 * 1024 * 1024
    const out = new Writer(1024)
    let anyData = false
    out.int32(req.topics.length)
    for (const ft of req.topics) {
      const t = topic(ft.name)
      writeString(out, ft.name)
      out.int32(ft.parts.length)
      for (const fp of ft.parts) {
        const p = t.partitions[fp.index]
        out.int32(fp.index)
        if (!p) {
          out.int16(3).int64(-1).int64(-1)
          if (version >= 5) out.int64(-1)
          out.int32(0)
          if (version >= 11) out.int32(-1)
          out.int32(-1)
          continue
        }
        const hw = t.memory ? p.next : HUGE_OFFSET
        const outOfRange = t.memory && (fp.offset < p.start || fp.offset > p.next)
        out.int16(outOfRange ? 1 : 0).int64(hw).int64(hw)
        if (version >= 5) out.int64(p.start)
        out.int32(0) // aborted transactions: none
        if (version >= 11) out.int32(-1)
        const limit = Math.min(fp.maxBytes, budget)
        if (outOfRange) {
          out.int32(-1)
        } else if (!t.memory) {
          const copies = Math.max(1, Math.floor(limit / template.length))
          budget -= copies * template.length
          out.int32(copies * template.length)
          let base = fp.offset
          for (let c = 0; c < copies; c++) {
            out.int64(base).int32(templateBody.length) // batch length: bytes after this field
            out.bytes(templateBody)
            base += templateRecords
          }
          anyData = true
        } else {
          // batches whose last offset reaches the fetch offset, at least one, within the limit
          let i = lowerBound(p.batches, fp.offset)
          const chosen: Buffer[] = []
          let size = 0
          for (; i < p.batches.length; i++) {
            const b = p.batches[i]!.buf
            if (chosen.length > 0 && size + b.length > limit) break
            chosen.push(b)
            size += b.length
          }
          budget -= size
          out.int32(size)
          for (const b of chosen) out.bytes(b)
          if (size > 0) anyData = true
        }
      }
    }
    if (!anyData && !force) return false
    w.int32(0) // throttle
    if (version >= 7) w.int16(0).int32(0)
    for (const chunk of out.finish()) w.bytes(chunk)
    return true
  }

  function lowerBound(batches: StoredBatch[], offset: number): number {
    let lo = 0
    let hi = batches.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (batches[mid]!.last < offset) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  function listOffsets(version: number, r: Reader, w: Writer): void {
    r.int32()
    if (version >= 2) r.int8()
    const nt = r.int32()
    if (version >= 2) w.int32(0)
    w.int32(nt)
    for (let i = 0; i < nt; i++) {
      const t = topic(readString(r) ?? '')
      writeString(w, t.name)
      const np = r.int32()
      w.int32(np)
      for (let j = 0; j < np; j++) {
        const index = r.int32()
        if (version >= 4) r.int32()
        const ts = r.int64()
        const p = t.partitions[index]
        w.int32(index)
        if (!p) w.int16(3).int64(-1).int64(-1)
        else {
          const latest = t.memory ? p.next : HUGE_OFFSET
          w.int16(0).int64(-1).int64(ts === -2 ? p.start : latest)
        }
        if (version >= 4) w.int32(0)
      }
    }
  }

  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    const slots: Slot[] = []
    let chunks: Buffer[] = []
    let buffered = 0
    let need = -1

    const flush = (): void => {
      if (slots.length === 0 || slots[0]!.out === null) return
      socket.cork()
      while (slots.length > 0 && slots[0]!.out !== null) {
        for (const b of slots.shift()!.out!) socket.write(b)
      }
      socket.uncork()
    }

    const take = (n: number): Buffer => {
      const first = chunks[0]!
      if (first.length >= n) {
        const out = first.subarray(0, n)
        if (first.length === n) chunks.shift()
        else chunks[0] = first.subarray(n)
        buffered -= n
        return out
      }
      // the frame spans chunks: join it once
      const out = Buffer.allocUnsafe(n)
      let at = 0
      while (at < n) {
        const c = chunks[0]!
        const k = Math.min(c.length, n - at)
        c.copy(out, at, 0, k)
        at += k
        if (k === c.length) chunks.shift()
        else chunks[0] = c.subarray(k)
      }
      buffered -= n
      return out
    }

    const handle = (request: Buffer): void => {
      const r = new Reader(request)
      const apiKey = r.int16()
      const version = r.int16()
      const correlationId = r.int32()
      readString(r)
      const slot: Slot = { out: null }
      slots.push(slot)
      const done = (out: Buffer[]): void => {
        slot.out = out
        flush()
      }
      switch (apiKey) {
        case 18:
          // v3+ is flexible: header tagged fields, compact strings; nothing here needs them
          done(frame(correlationId, (w) => apiVersions(version, w)))
          return
        case 3:
          done(frame(correlationId, (w) => metadata(version, r, w)))
          return
        case 19:
          done(frame(correlationId, (w) => createTopics(version, r, w)))
          return
        case 2:
          done(frame(correlationId, (w) => listOffsets(version, r, w)))
          return
        case 0: {
          const save = r.offset
          readString(r)
          const acks = r.int16()
          r.offset = save
          if (acks === 0) {
            produce(version, r, null)
            done([])
          } else done(frame(correlationId, (w) => produce(version, r, w)))
          return
        }
        case 1: {
          const req = parseFetch(version, r)
          let answered = false
          const attempt = (force: boolean): boolean => {
            if (answered) return true
            const w = new Writer(256)
            const setSize = w.reserveInt32()
            w.int32(correlationId)
            if (!fetchBody(req, w, force)) return false
            setSize(w.length - 4)
            answered = true
            done(w.finish())
            return true
          }
          if (attempt(req.maxWait <= 0)) return
          const memTopics = req.topics.map((t) => topic(t.name)).filter((t) => t.memory)
          const wake = (): void => {
            if (attempt(false)) {
              clearTimeout(timer)
              for (const t of memTopics) t.waiters.delete(wake)
            } else for (const t of memTopics) t.waiters.add(wake)
          }
          const timer = setTimeout(() => {
            for (const t of memTopics) t.waiters.delete(wake)
            attempt(true)
          }, req.maxWait)
          for (const t of memTopics) t.waiters.add(wake)
          return
        }
        default:
          // not advertised: a real client never sends it
          socket.destroy()
      }
    }

    socket.on('data', (d: Buffer) => {
      chunks.push(d)
      buffered += d.length
      for (;;) {
        if (need < 0) {
          if (buffered < 4) return
          const head = chunks[0]!.length >= 4 ? chunks[0]! : Buffer.concat(chunks, 4)
          need = head.readInt32BE(0) + 4
        }
        if (buffered < need) return
        const f = take(need)
        need = -1
        try {
          handle(f.subarray(4))
        } catch (err) {
          process.stderr.write(`null broker: ${(err as Error).message}\n`)
          socket.destroy()
          return
        }
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      chunks = []
    })
  })

  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => {
      port = (server.address() as net.AddressInfo).port
      resolve({
        host,
        port,
        close: () => new Promise<void>((res) => server.close(() => res())),
      })
    })
  })
}

function argValue(args: string[], key: string): string | undefined {
  const i = args.indexOf(key)
  return i >= 0 ? args[i + 1] : undefined
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2)
  const listen = argValue(args, '--listen') ?? '127.0.0.1:0'
  const [h, p] = listen.split(':')
  const broker = await startNullBroker({
    host: h,
    port: Number(p ?? 0),
    partitions: Number(argValue(args, '--partitions') ?? 6),
  })
  process.stdout.write(`null broker ready: bootstrap ${broker.host}:${broker.port}\n`)
  const stop = (): void => {
    void broker.close()
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
