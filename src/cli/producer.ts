// A small producer on our own client, for `fjord produce`: records are partitioned as Kafka's
// default partitioner does (murmur2 of the key for keyed records; null keys stick to one
// partition per batch, then move on round robin), gathered into one record batch per partition
// (compressed with the chosen codec), and sent with Produce v3+ to each partition's leader, one
// request per leader at a time so that a partition's batches stay in order. Retriable errors
// (and a lost connection) refresh the metadata and resend the batch, a few times with a growing
// pause. Not idempotent: a resend after a lost answer may write a batch twice.

import { Apis } from '../protocol/apis.js'
import { ErrorCode, KafkaError, errorInfo } from '../protocol/errors.js'
import { Compression } from '../protocol/compression.js'
import { buildBatch, type BuildRecord } from '../protocol/records.js'
import { ClientError, type KafkaClient, type KafkaConnection } from './kafka-client.js'

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit int. */
export function murmur2(data: Buffer): number {
  const length = data.length
  const m = 0x5bd1e995
  let h = (0x9747b28c ^ length) | 0
  const length4 = length >>> 2
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m)
    h ^= k
  }
  const tail = length & ~3
  const rest = length % 4
  if (rest === 3) h ^= data[tail + 2]! << 16
  if (rest >= 2) h ^= data[tail + 1]! << 8
  if (rest >= 1) {
    h ^= data[tail]!
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

/** The partition Kafka's default partitioner gives a key. */
export function partitionForKey(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions
}

export interface ProducerOptions {
  topic: string
  /** -1 (all), 1 or 0. */
  acks: number
  compression: Compression
  /** Every record goes to this partition when set. */
  partition?: number
  /** A batch is closed at this many bytes of keys and values (batch.size). Default 16 KiB. */
  batchBytes?: number
  /** A record waits at most this long for its batch to fill (linger.ms). Default 50 ms. */
  lingerMs?: number
  /** Resends of a batch after retriable errors. Default 5. */
  retries?: number
  requestTimeoutMs?: number
}

export interface PartitionOutcome {
  partition: number
  records: number
  /** First and last offsets acknowledged (-1 when unknown: acks=0, or nothing acknowledged). */
  firstOffset: number
  lastOffset: number
  failed: number
  error: string | null
}

interface Batch {
  partition: number
  records: BuildRecord[]
  attempts: number
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

export class Producer {
  private partitionCount = 0
  private leaders = new Map<number, number>()
  private open = new Map<number, { records: BuildRecord[]; bytes: number }>()
  private ready: Batch[] = []
  private readyRecords = 0
  private sticky = -1
  private roundRobin = 0
  private lingerTimer: NodeJS.Timeout | null = null
  private sending: Promise<void> = Promise.resolve()
  private kicked = false
  private readonly outcomes = new Map<number, PartitionOutcome>()

  private constructor(private readonly client: KafkaClient, private readonly opts: ProducerOptions) {}

  /** Looks the topic up first: an unknown topic or partition fails here, before any input is read. */
  static async create(client: KafkaClient, opts: ProducerOptions): Promise<Producer> {
    const p = new Producer(client, opts)
    await p.refreshMetadata()
    if (opts.partition !== undefined && opts.partition >= p.partitionCount) {
      throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${opts.partition} of topic '${opts.topic}' does not exist (it has ${p.partitionCount})`)
    }
    return p
  }

  private async refreshMetadata(): Promise<void> {
    const md = await this.client.metadata([this.opts.topic])
    const t = md.topics.find((x) => x.name === this.opts.topic)
    if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${this.opts.topic}' does not exist`)
    if (t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${this.opts.topic}' does not exist`)
    if (t.errorCode !== 0 && t.errorCode !== ErrorCode.LEADER_NOT_AVAILABLE.code) throw new KafkaError(errorInfo(t.errorCode), `metadata of topic '${this.opts.topic}': ${errorInfo(t.errorCode).message}`)
    this.partitionCount = Math.max(this.partitionCount, t.partitions.length)
    this.leaders = new Map(t.partitions.map((p) => [p.partitionIndex, p.errorCode === 0 ? p.leaderId : -1]))
  }

  /** Adds one record; it is sent when its batch fills, after linger.ms, or on flush(). */
  async add(key: Buffer | null, value: Buffer): Promise<void> {
    const partition = this.choosePartition(key)
    let open = this.open.get(partition)
    if (!open) this.open.set(partition, (open = { records: [], bytes: 0 }))
    open.records.push({ key, value, timestamp: Date.now() })
    open.bytes += (key?.length ?? 0) + value.length + 16
    if (open.bytes >= (this.opts.batchBytes ?? 16_384)) {
      this.close(partition)
      if (partition === this.sticky) this.sticky = -1
    } else if (!this.lingerTimer) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = null
        for (const p of [...this.open.keys()]) this.close(p)
        this.kick()
      }, this.opts.lingerMs ?? 50)
    }
    // Back-pressure: stdin waits while a lot is queued.
    if (this.readyRecords > 0) this.kick()
    if (this.readyRecords >= 50_000) await this.sending
  }

  private choosePartition(key: Buffer | null): number {
    if (this.opts.partition !== undefined) return this.opts.partition
    if (key !== null) return partitionForKey(key, this.partitionCount)
    if (this.sticky < 0) this.sticky = this.roundRobin++ % this.partitionCount
    return this.sticky
  }

  private close(partition: number): void {
    const open = this.open.get(partition)
    if (!open || open.records.length === 0) return
    this.open.delete(partition)
    this.ready.push({ partition, records: open.records, attempts: 0 })
    this.readyRecords += open.records.length
  }

  private kick(): void {
    if (this.kicked) return
    this.kicked = true
    this.sending = this.sending.then(() => {
      this.kicked = false
      return this.sendReady()
    })
  }

  /** Sends everything still open and waits for every answer. */
  async flush(): Promise<PartitionOutcome[]> {
    if (this.lingerTimer) clearTimeout(this.lingerTimer)
    this.lingerTimer = null
    for (const p of [...this.open.keys()]) this.close(p)
    this.kick()
    await this.sending
    return [...this.outcomes.values()].sort((a, b) => a.partition - b.partition)
  }

  private outcome(partition: number): PartitionOutcome {
    let o = this.outcomes.get(partition)
    if (!o) this.outcomes.set(partition, (o = { partition, records: 0, firstOffset: -1, lastOffset: -1, failed: 0, error: null }))
    return o
  }

  /** Sends the ready batches until none is left: one request per leader at a time, retries after a pause. */
  private async sendReady(): Promise<void> {
    while (this.ready.length > 0) {
      const batches = this.ready
      this.ready = []
      this.readyRecords = 0
      const retry: Batch[] = []
      const byLeader = new Map<number, Batch[]>()
      for (const b of batches) {
        const leader = this.leaders.get(b.partition) ?? -1
        if (leader < 0) {
          this.retryOrFail(b, retry, new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, `partition ${b.partition} has no leader`))
          continue
        }
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), b])
      }
      await Promise.all([...byLeader].map(([leader, list]) => this.sendTo(leader, list, retry)))
      if (retry.length > 0) {
        const attempt = Math.max(...retry.map((b) => b.attempts))
        await pause(Math.min(1000, 100 * 2 ** (attempt - 1)))
        try {
          await this.refreshMetadata()
        } catch (err) {
          for (const b of retry) this.fail(b, err)
          continue
        }
        this.ready.push(...retry)
      }
    }
  }

  private retryOrFail(b: Batch, retry: Batch[], err: unknown): void {
    b.attempts++
    if (b.attempts > (this.opts.retries ?? 5)) this.fail(b, err)
    else retry.push(b)
  }

  private fail(b: Batch, err: unknown): void {
    const o = this.outcome(b.partition)
    o.failed += b.records.length
    o.error = err instanceof KafkaError ? `${err.error.name}: ${err.message}` : (err as Error).message
  }

  private async sendTo(leader: number, list: Batch[], retry: Batch[]): Promise<void> {
    // One batch per partition per request (Kafka's rule for v2 batches); more go in the next request.
    const seen = new Set<number>()
    const now: Batch[] = []
    for (const b of list) {
      if (seen.has(b.partition)) retry.push(b) // not an attempt: just the next round
      else { seen.add(b.partition); now.push(b) }
    }
    let conn: KafkaConnection
    try {
      conn = await this.client.node(leader)
    } catch (err) {
      for (const b of now) this.retryOrFail(b, retry, err)
      return
    }
    const records = await Promise.all(now.map((b) => buildBatch({ records: b.records, compression: this.opts.compression })))
    const build = (v: number) => {
      if (v < 3) throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, `the broker at ${conn.describe()} does not support Produce v3 (record batches v2)`)
      return {
        transactionalId: null,
        acks: this.opts.acks,
        timeoutMs: this.opts.requestTimeoutMs ?? 30_000,
        topicData: [{ name: this.opts.topic, partitionData: now.map((b, i) => ({ index: b.partition, records: records[i]! })) }],
      }
    }
    try {
      if (this.opts.acks === 0) {
        await conn.sendWithoutResponse(Apis.Produce, build)
        for (const b of now) this.outcome(b.partition).records += b.records.length
        return
      }
      const { body } = await conn.send(Apis.Produce, build)
      const answers = new Map((body.responses.find((t) => t.name === this.opts.topic)?.partitionResponses ?? []).map((p) => [p.index, p]))
      for (const b of now) {
        const p = answers.get(b.partition)
        if (!p) {
          this.retryOrFail(b, retry, new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `no answer for partition ${b.partition}`))
          continue
        }
        if (p.errorCode !== 0) {
          const info = errorInfo(p.errorCode)
          const err = new KafkaError(info, p.errorMessage || info.message)
          if (info.retriable) this.retryOrFail(b, retry, err)
          else this.fail(b, err)
          continue
        }
        const o = this.outcome(b.partition)
        o.records += b.records.length
        if (o.firstOffset < 0) o.firstOffset = p.baseOffset
        o.lastOffset = p.baseOffset + b.records.length - 1
      }
    } catch (err) {
      if (err instanceof ClientError) {
        // The connection is gone: whether the broker wrote the batch is unknown; resend it.
        this.client.forget(conn)
        for (const b of now) this.retryOrFail(b, retry, err)
        return
      }
      if (err instanceof KafkaError) {
        for (const b of now) this.fail(b, err)
        return
      }
      throw err
    }
  }
}
