// The cluster metadata as an ordered log of records, and the in-memory image every broker and
// the controller build by replaying it (the shape of Kafka's KRaft metadata log). Records carry
// whole states rather than deltas (a partition record is the partition's full state), so that
// replaying any suffix after a snapshot gives the same image and a record is easy to read.

export interface BrokerRegistration {
  id: number
  /** Bumped on every registration: a heartbeat with an older epoch is from a previous incarnation. */
  epoch: number
  host: string
  port: number
  rack: string | null
  /** A fenced broker leads nothing and is in no ISR; it is unfenced when it registers again. */
  fenced: boolean
  /** Set during a controlled shutdown: leaderships move away, no new ones arrive. */
  shuttingDown: boolean
}

export interface PartitionState {
  replicas: number[]
  isr: number[]
  /** -1 when no replica in the ISR is alive (the partition is offline). */
  leader: number
  leaderEpoch: number
  /** Bumped on every change; AlterPartition proposals must name the current one. */
  partitionEpoch: number
  /** Reassignment in progress: replicas being added and being removed (KIP-455). */
  addingReplicas: number[]
  removingReplicas: number[]
}

export type MetadataRecord =
  | { type: 'cluster'; clusterId: string }
  | ({ type: 'broker' } & BrokerRegistration)
  | { type: 'unregisterBroker'; id: number }
  | { type: 'topic'; name: string; id: string; internal: boolean; configs: Record<string, string> }
  | { type: 'removeTopic'; name: string }
  | { type: 'configs'; topic: string; configs: Record<string, string> }
  /**
   * A layer of dynamic broker configs, whole: `broker` is '' for the cluster-wide default, else a
   * broker id. An empty `configs` removes the layer.
   */
  | { type: 'brokerConfigs'; broker: string; configs: Record<string, string> }
  | ({ type: 'partition'; topic: string; partition: number } & PartitionState)
  | { type: 'producerIds'; nextBlock: number }

export interface TopicRecord {
  name: string
  /** 32 hex digits */
  id: string
  /** partition count */
  partitions: number
  replicationFactor: number
  configs: Record<string, string>
  internal: boolean
  /** indexed by partition */
  states: PartitionState[]
}

/** The state every broker and the controller build from the metadata log. */
export class MetadataImage {
  clusterId = ''
  /** Records applied so far: the offset of the next record. */
  offset = 0
  nextProducerIdBlock = 0
  readonly brokers = new Map<number, BrokerRegistration>()
  /** Dynamic broker config layers by resource name ('' the cluster default, else a broker id); none empty. */
  private readonly brokerConfigLayers = new Map<string, Record<string, string>>()
  private readonly topics = new Map<string, TopicRecord>()
  private readonly byId = new Map<string, TopicRecord>()

  apply(r: MetadataRecord): void {
    this.offset++
    switch (r.type) {
      case 'cluster':
        this.clusterId = r.clusterId
        break
      case 'broker': {
        const { type: _, ...reg } = r
        this.brokers.set(r.id, reg)
        break
      }
      case 'unregisterBroker':
        this.brokers.delete(r.id)
        break
      case 'topic': {
        const existing = this.topics.get(r.name)
        if (existing) {
          existing.configs = r.configs
          break
        }
        const t: TopicRecord = { name: r.name, id: r.id, partitions: 0, replicationFactor: 0, configs: r.configs, internal: r.internal, states: [] }
        this.topics.set(t.name, t)
        this.byId.set(t.id, t)
        break
      }
      case 'removeTopic': {
        const t = this.topics.get(r.name)
        if (t) {
          this.topics.delete(r.name)
          this.byId.delete(t.id)
        }
        break
      }
      case 'configs': {
        const t = this.topics.get(r.topic)
        if (t) t.configs = r.configs
        break
      }
      case 'brokerConfigs':
        if (Object.keys(r.configs).length === 0) this.brokerConfigLayers.delete(r.broker)
        else this.brokerConfigLayers.set(r.broker, r.configs)
        break
      case 'partition': {
        const t = this.topics.get(r.topic)
        if (!t) break
        const { type: _t, topic: _n, partition, ...state } = r
        t.states[partition] = state
        if (partition >= t.partitions) t.partitions = partition + 1
        if (partition === 0) t.replicationFactor = state.replicas.length - state.addingReplicas.length
        break
      }
      case 'producerIds':
        this.nextProducerIdBlock = r.nextBlock
        break
    }
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

  partitionState(topic: string, partition: number): PartitionState | undefined {
    return this.topics.get(topic)?.states[partition]
  }

  /** The dynamic configs of a BROKER resource ('' the cluster default, else a broker id); {} when none. */
  brokerConfigs(resource: string): Readonly<Record<string, string>> {
    return this.brokerConfigLayers.get(resource) ?? {}
  }

  liveBrokers(): BrokerRegistration[] {
    return [...this.brokers.values()].filter((b) => !b.fenced).sort((a, b) => a.id - b.id)
  }

  /** Records that rebuild this image from nothing: what a snapshot holds. */
  toRecords(): MetadataRecord[] {
    const out: MetadataRecord[] = []
    if (this.clusterId) out.push({ type: 'cluster', clusterId: this.clusterId })
    for (const b of this.brokers.values()) out.push({ type: 'broker', ...b })
    for (const [broker, configs] of this.brokerConfigLayers) out.push({ type: 'brokerConfigs', broker, configs })
    for (const t of this.topics.values()) {
      out.push({ type: 'topic', name: t.name, id: t.id, internal: t.internal, configs: t.configs })
      t.states.forEach((s, partition) => out.push({ type: 'partition', topic: t.name, partition, ...s }))
    }
    if (this.nextProducerIdBlock > 0) out.push({ type: 'producerIds', nextBlock: this.nextProducerIdBlock })
    return out
  }
}
