// A small consumer on our own client, for `fjord consume`: Fetch (read_uncommitted, no fetch
// session) from each partition's leader, batches decompressed with our codecs (readRecords),
// control batches skipped. With a group it is a simple (unassigned) group member, as
// `kafka-console-consumer --partition` users and Kafka's "standalone" consumers are: it starts from
// the group's committed offsets and commits with OffsetCommit generation -1, no member id, which
// the coordinator accepts only while the group has no active members; it takes every partition
// asked for (no rebalancing with other members).

import { Apis } from '../protocol/apis.js'
import { ErrorCode, KafkaError, errorInfo } from '../protocol/errors.js'
import { Attributes, BatchOffset, lastOffsetOf } from '../protocol/record-batch.js'
import { readRecords, splitBatchesLenient, type RecordView } from '../protocol/records.js'
import { committedOffsets, listOffsets, tpKey } from './admin.js'
import { check, ClientError, type KafkaClient } from './kafka-client.js'

export type StartPosition = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'offset'; offset: number }

export interface ConsumerOptions {
  topic: string
  partition?: number
  start: StartPosition
  group?: string
  requestTimeoutMs?: number
}

export interface ConsumedRecord extends RecordView {
  topic: string
  partition: number
}

interface PartitionState {
  partition: number
  offset: number
  leader: number
}

export class Consumer {
  private partitions: PartitionState[] = []
  private topicId = ''
  /** Next offset to read per partition, as it was when last committed. */
  private committed = new Map<number, number>()

  private constructor(private readonly client: KafkaClient, private readonly opts: ConsumerOptions) {}

  /** Looks the topic up and finds where to start; an unknown topic or partition fails here. */
  static async create(client: KafkaClient, opts: ConsumerOptions): Promise<Consumer> {
    const c = new Consumer(client, opts)
    const leaders = await c.leaders()
    const chosen = opts.partition === undefined ? [...leaders.keys()].sort((a, b) => a - b) : [opts.partition]
    if (opts.partition !== undefined && !leaders.has(opts.partition)) {
      throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${opts.partition} of topic '${opts.topic}' does not exist (it has ${leaders.size})`)
    }
    const committed = opts.group ? await committedOffsets(client, opts.group, [opts.topic]) : new Map<string, number>()
    c.partitions = chosen.map((p) => ({ partition: p, offset: -1, leader: leaders.get(p) ?? -1 }))
    for (const s of c.partitions) {
      const at = committed.get(tpKey({ topic: opts.topic, partition: s.partition }))
      if (at !== undefined) {
        s.offset = at
        c.committed.set(s.partition, at)
      }
    }
    await c.resolveStart(c.partitions.filter((s) => s.offset < 0), opts.start)
    return c
  }

  private async leaders(): Promise<Map<number, number>> {
    const md = await this.client.metadata([this.opts.topic])
    const t = md.topics.find((x) => x.name === this.opts.topic)
    if (!t || t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${this.opts.topic}' does not exist`)
    if (t.errorCode !== 0 && t.errorCode !== ErrorCode.LEADER_NOT_AVAILABLE.code) throw new KafkaError(errorInfo(t.errorCode), `metadata of topic '${this.opts.topic}': ${errorInfo(t.errorCode).message}`)
    this.topicId = t.topicId ?? ''
    return new Map(t.partitions.map((p) => [p.partitionIndex, p.errorCode === 0 ? p.leaderId : -1]))
  }

  /** Sets the offset of each partition from a start position (a number is taken as given). */
  private async resolveStart(states: PartitionState[], start: StartPosition): Promise<void> {
    if (states.length === 0) return
    if (start.kind === 'offset') {
      for (const s of states) s.offset = start.offset
      return
    }
    const ts = start.kind === 'earliest' ? -2 : -1
    const listed = await listOffsets(this.client, states.map((s) => ({ topic: this.opts.topic, partition: s.partition })), () => ts)
    for (const s of states) {
      const o = listed.get(tpKey({ topic: this.opts.topic, partition: s.partition }))
      check(o?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR.code, null, `offsets of ${this.opts.topic}-${s.partition}`)
      s.offset = o!.offset
    }
  }

  /**
   * One round of Fetch to every leader, waiting up to maxWaitMs for data; returns the records
   * read (at most `limit`), in partition order per leader.
   */
  async poll(maxWaitMs: number, limit: number): Promise<ConsumedRecord[]> {
    const byLeader = new Map<number, PartitionState[]>()
    let stale = false
    for (const s of this.partitions) {
      if (s.leader < 0) { stale = true; continue }
      byLeader.set(s.leader, [...(byLeader.get(s.leader) ?? []), s])
    }
    const out: ConsumedRecord[] = []
    const results = await Promise.all([...byLeader].map(async ([leader, states]) => {
      try {
        return await this.fetchFrom(leader, states, maxWaitMs)
      } catch (err) {
        if (!(err instanceof ClientError)) throw err
        return { records: [], stale: true }
      }
    }))
    for (const r of results) {
      stale ||= r.stale
      out.push(...r.records)
    }
    if (stale) {
      await new Promise((r) => setTimeout(r, 200))
      const leaders = await this.leaders()
      for (const s of this.partitions) s.leader = leaders.get(s.partition) ?? -1
    }
    if (out.length > limit) {
      // Keep what was not printed for the next run: rewind each partition to its first unprinted record.
      for (const r of out.slice(limit)) {
        const s = this.partitions.find((p) => p.partition === r.partition)!
        if (r.offset < s.offset) s.offset = r.offset
      }
      out.length = limit
    }
    return out
  }

  private async fetchFrom(leader: number, states: PartitionState[], maxWaitMs: number): Promise<{ records: ConsumedRecord[]; stale: boolean }> {
    const conn = await this.client.node(leader)
    const { body, version } = await conn.send(Apis.Fetch, (v) => {
      if (v < 4) throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, `the broker at ${conn.describe()} does not support Fetch v4 (record batches v2)`)
      return {
        clusterId: null,
        replicaId: -1,
        replicaState: { replicaId: -1, replicaEpoch: -1 },
        maxWaitMs,
        minBytes: 1,
        maxBytes: 50 * 1024 * 1024,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{
          topic: this.opts.topic,
          topicId: this.topicId,
          partitions: states.map((s) => ({ partition: s.partition, currentLeaderEpoch: -1, fetchOffset: s.offset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1024 * 1024 })),
        }],
        forgottenTopicsData: [],
        rackId: '',
      }
    })
    check(version >= 7 ? body.errorCode : 0, null, `Fetch from ${conn.describe()}`)
    const records: ConsumedRecord[] = []
    let stale = false
    const reset: PartitionState[] = []
    for (const t of body.responses) {
      if (version >= 13 ? t.topicId !== this.topicId : t.topic !== this.opts.topic) continue
      for (const p of t.partitions) {
        const s = states.find((x) => x.partition === p.partitionIndex)
        if (!s) continue
        if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE.code) { reset.push(s); continue }
        if (p.errorCode !== 0) {
          const info = errorInfo(p.errorCode)
          if (!info.retriable) throw new KafkaError(info, `${this.opts.topic}-${s.partition}: ${info.message}`)
          stale = true
          continue
        }
        if (!p.records) continue
        for (const batch of splitBatchesLenient(p.records)) {
          const next = lastOffsetOf(batch) + 1
          if (next <= s.offset) continue
          if ((batch.readInt16BE(BatchOffset.attributes) & Attributes.control) === 0) {
            for (const r of readRecords(batch)) if (r.offset >= s.offset) records.push({ ...r, topic: this.opts.topic, partition: s.partition })
          }
          s.offset = next
        }
      }
    }
    // Out of range (deleted by retention, or past the end): start again where --offset says,
    // as auto.offset.reset does (a number falls back to earliest).
    if (reset.length > 0) await this.resolveStart(reset, this.opts.start.kind === 'latest' ? this.opts.start : { kind: 'earliest' })
    return { records, stale }
  }

  /** Commits the next offset of every partition that moved (group mode only). */
  async commit(): Promise<void> {
    const group = this.opts.group
    if (!group) return
    const moved = this.partitions.filter((s) => s.offset >= 0 && this.committed.get(s.partition) !== s.offset)
    if (moved.length === 0) return
    await this.client.withCoordinator(group, async (conn) => {
      const { body } = await conn.send(Apis.OffsetCommit, () => ({
        groupId: group,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        retentionTimeMs: -1,
        topics: [{ name: this.opts.topic, partitions: moved.map((s) => ({ partitionIndex: s.partition, committedOffset: s.offset, committedLeaderEpoch: -1, committedMetadata: '' })) }],
      }))
      for (const t of body.topics) {
        for (const p of t.partitions) check(p.errorCode, null, `cannot commit the offset of ${t.name}-${p.partitionIndex} for group '${group}'`)
      }
    })
    for (const s of moved) this.committed.set(s.partition, s.offset)
  }
}
