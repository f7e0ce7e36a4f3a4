// The cluster's topic metadata for the embedded, single-broker controller: topic ids, partition
// counts and config overrides, kept in one JSON snapshot written atomically (temp file, fsync,
// rename) on every change, so a crash leaves either the old or the new state, never a mix.
// Replication (a later issue) replaces this with a replicated metadata log behind the same shape.

import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode, KafkaError } from '../protocol/errors.js'
import { validateTopicConfig } from './topic-configs.js'

export interface TopicRecord {
  name: string
  /** 32 hex digits */
  id: string
  partitions: number
  replicationFactor: number
  configs: Record<string, string>
  internal: boolean
}

interface Snapshot {
  version: 1
  clusterId: string
  topics: TopicRecord[]
  /** first producer id not yet handed out in a block */
  nextProducerIdBlock?: number
}

/** Producer ids are reserved in blocks, so a restart never hands out an id twice. */
export const PRODUCER_ID_BLOCK_SIZE = 1000

const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/
export const MAX_TOPIC_NAME_LENGTH = 249

export function validateTopicName(name: string): void {
  if (name.length === 0) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, 'Topic name is illegal, it can\'t be empty')
  if (name === '.' || name === '..') throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, 'Topic name cannot be "." or ".."')
  if (name.length > MAX_TOPIC_NAME_LENGTH) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic name is illegal, it can't be longer than ${MAX_TOPIC_NAME_LENGTH} characters`)
  if (!TOPIC_NAME.test(name)) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`)
}

/** Kafka's base64url cluster id form, 22 characters. */
function newClusterId(): string {
  return randomBytes(16).toString('base64url')
}

export function newTopicId(): string {
  return randomBytes(16).toString('hex')
}

export class MetadataStore {
  private readonly file: string
  readonly clusterId: string
  private readonly topics = new Map<string, TopicRecord>()
  private readonly byId = new Map<string, TopicRecord>()
  private nextProducerIdBlock = 0
  private producerIdNext = 0
  private producerIdEnd = 0

  /** `clusterId`, when given, names the cluster on first start and must match on later ones. */
  constructor(private readonly dataDir: string, clusterId = '') {
    mkdirSync(dataDir, { recursive: true })
    this.file = join(dataDir, 'cluster-metadata.json')
    if (existsSync(this.file)) {
      const snap = JSON.parse(readFileSync(this.file, 'utf8')) as Snapshot
      if (clusterId && clusterId !== snap.clusterId) {
        // Kafka refuses to start a broker whose data belongs to another cluster (INCONSISTENT_CLUSTER_ID)
        throw new Error(`cluster.id ${clusterId} does not match the cluster id ${snap.clusterId} stored in ${this.file}`)
      }
      this.clusterId = snap.clusterId
      this.nextProducerIdBlock = snap.nextProducerIdBlock ?? 0
      for (const t of snap.topics) this.index(t)
    } else {
      this.clusterId = clusterId || newClusterId()
      this.persist()
    }
  }

  private index(t: TopicRecord): void {
    this.topics.set(t.name, t)
    this.byId.set(t.id, t)
  }

  private persist(): void {
    const snap: Snapshot = { version: 1, clusterId: this.clusterId, topics: [...this.topics.values()], nextProducerIdBlock: this.nextProducerIdBlock }
    const tmp = `${this.file}.tmp`
    const fd = openSync(tmp, 'w')
    try {
      writeSync(fd, JSON.stringify(snap))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, this.file)
    // the rename itself is durable only once the directory is synced
    const dirFd = openSync(this.dataDir, 'r')
    try { fsyncSync(dirFd) } finally { closeSync(dirFd) }
  }

  /** A producer id never handed out before, on this cluster, across restarts. */
  allocateProducerId(): number {
    if (this.producerIdNext >= this.producerIdEnd) {
      this.producerIdNext = this.nextProducerIdBlock
      this.producerIdEnd = this.nextProducerIdBlock + PRODUCER_ID_BLOCK_SIZE
      this.nextProducerIdBlock = this.producerIdEnd
      this.persist()
    }
    return this.producerIdNext++
  }

  topic(name: string): TopicRecord | undefined {
    return this.topics.get(name)
  }

  topicById(id: string): TopicRecord | undefined {
    return this.byId.get(id)
  }

  allTopics(): IterableIterator<TopicRecord> {
    return this.topics.values()
  }

  get topicCount(): number {
    return this.topics.size
  }

  /** Validates a whole creation before anything changes; `persist` false batches several creations. */
  checkCreate(name: string, partitions: number, replicationFactor: number, configs: Record<string, string>, liveBrokers: number): void {
    validateTopicName(name)
    if (this.topics.has(name)) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`)
    if (partitions < 1) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be larger than 0.`)
    if (partitions > 100_000) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `Number of partitions ${partitions} exceeds the limit of 100000.`)
    if (replicationFactor < 1) throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0.')
    if (replicationFactor > liveBrokers) {
      throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor: ${replicationFactor} larger than available brokers: ${liveBrokers}.`)
    }
    for (const [k, v] of Object.entries(configs)) validateTopicConfig(k, v)
  }

  createTopics(records: Omit<TopicRecord, 'id'>[]): TopicRecord[] {
    const created = records.map((r) => ({ ...r, id: newTopicId() }))
    for (const t of created) this.index(t)
    this.persist()
    return created
  }

  deleteTopic(name: string): TopicRecord {
    const t = this.topics.get(name)
    if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    this.topics.delete(name)
    this.byId.delete(t.id)
    this.persist()
    return t
  }

  setPartitionCount(name: string, count: number): void {
    const t = this.topics.get(name)
    if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    t.partitions = count
    this.persist()
  }

  setConfigs(name: string, configs: Record<string, string>): void {
    const t = this.topics.get(name)
    if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    t.configs = configs
    this.persist()
  }
}
