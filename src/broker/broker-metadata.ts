// What handlers read of the cluster metadata: the image the controller link keeps current, plus
// producer ids, which come from the controller in blocks. The next block is fetched while half
// of the current one remains, so handing out an id never waits on the controller.

import type { MetadataImage, TopicRecord } from '../controller/records.js'
import { ErrorCode, KafkaError } from '../protocol/errors.js'

export class BrokerMetadata {
  private next = 0
  private end = 0
  private reserve: { start: number; length: number } | null = null
  private fetching: Promise<void> | null = null

  constructor(private readonly image: () => MetadataImage, private readonly fetchBlock: () => Promise<{ start: number; length: number }>, private readonly warn: (err: Error) => void) {}

  get clusterId(): string {
    return this.image().clusterId
  }

  topic(name: string): TopicRecord | undefined {
    return this.image().topic(name)
  }

  topicById(id: string): TopicRecord | undefined {
    return this.image().topicById(id)
  }

  allTopics(): IterableIterator<TopicRecord> {
    return this.image().allTopics()
  }

  get topicCount(): number {
    return this.image().topicCount
  }

  /** Gets the first block; called once the controller is reachable. */
  async start(): Promise<void> {
    const b = await this.fetchBlock()
    this.next = b.start
    this.end = b.start + b.length
  }

  /** A producer id never handed out before on this cluster. */
  allocateProducerId(): number {
    if (this.next >= this.end && this.reserve) {
      this.next = this.reserve.start
      this.end = this.reserve.start + this.reserve.length
      this.reserve = null
    }
    if (this.next >= this.end) {
      this.prefetch()
      throw new KafkaError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 'waiting for a block of producer ids from the controller')
    }
    if (!this.reserve && this.end - this.next < 500) this.prefetch()
    return this.next++
  }

  private prefetch(): void {
    if (this.fetching) return
    this.fetching = this.fetchBlock().then(
      (b) => { this.reserve = b },
      (err: Error) => this.warn(err),
    ).finally(() => { this.fetching = null })
  }
}
