// Where the transaction coordinator's markers go. A partition this broker leads gets its marker
// from the local log (writeMarker in index.ts); a partition led by another broker gets it with a
// WriteTxnMarkers request to that broker, as Kafka's TransactionMarkerChannelManager sends them.
// A partition without a leader, a refused request or a lost connection fails the write: the
// coordinator retries the partitions still missing their marker every second. A marker the
// partition refuses as stale (an older producer epoch or coordinator epoch) counts as written,
// as a local one does.

import { ClientError, KafkaConnection } from '../../cli/kafka-client.js'
import { Apis } from '../../protocol/apis.js'
import { ErrorCode as E, KafkaError, errorInfo } from '../../protocol/errors.js'
import type { Logger } from '../group-coordinator.js'
import type { MarkerTarget, TxnMarker } from './coordinator.js'

export interface Endpoint {
  nodeId: number
  host: string
  port: number
}

/** What routing markers needs of the broker. */
export interface MarkerRoutes {
  /** Whether the topic still exists (a marker for a deleted topic has nothing to end). */
  topicExists(topic: string): boolean
  isLeader(topic: string, partition: number): boolean
  leaderEndpoint(topic: string, partition: number): Endpoint | null
  /** Writes the marker into this broker's replica (it leads the partition). */
  writeLocal(topic: string, partition: number, marker: TxnMarker): Promise<boolean>
}

const REQUEST_TIMEOUT_MS = 15_000

export class MarkerRouter implements MarkerTarget {
  private readonly connections = new Map<string, Promise<KafkaConnection>>()
  private closed = false

  constructor(
    private readonly routes: MarkerRoutes,
    private readonly clientId: string,
    private readonly log?: Logger,
  ) {}

  async writeMarker(topic: string, partition: number, marker: TxnMarker): Promise<boolean> {
    if (!this.routes.topicExists(topic)) return false
    if (this.routes.isLeader(topic, partition)) return this.routes.writeLocal(topic, partition, marker)
    const leader = this.routes.leaderEndpoint(topic, partition)
    if (!leader) throw new KafkaError(E.LEADER_NOT_AVAILABLE, `${topic}-${partition} has no leader now: its transaction marker waits for one`)
    return this.writeRemote(leader, topic, partition, marker)
  }

  private async writeRemote(leader: Endpoint, topic: string, partition: number, m: TxnMarker): Promise<boolean> {
    if (this.closed) throw new KafkaError(E.NOT_COORDINATOR, 'the transaction coordinator is closed')
    const key = `${leader.host}:${leader.port}`
    let body
    try {
      const conn = await this.connection(key, leader)
      ;({ body } = await conn.send(Apis.WriteTxnMarkers, () => ({
        markers: [
          {
            producerId: m.producerId,
            producerEpoch: m.producerEpoch,
            transactionResult: m.commit,
            topics: [{ name: topic, partitionIndexes: [partition] }],
            coordinatorEpoch: m.coordinatorEpoch,
          },
        ],
      })))
    } catch (err) {
      if (err instanceof ClientError || !(err instanceof KafkaError)) this.drop(key)
      throw err
    }
    const code = body.markers[0]?.topics[0]?.partitions[0]?.errorCode ?? E.UNKNOWN_SERVER_ERROR.code
    if (code === E.NONE.code) return true
    if (code === E.INVALID_PRODUCER_EPOCH.code || code === E.TRANSACTION_COORDINATOR_FENCED.code) return false
    const info = errorInfo(code)
    throw new KafkaError(info, `WriteTxnMarkers to broker ${leader.nodeId} (${key}) for ${topic}-${partition}: ${info.name}`)
  }

  private connection(key: string, leader: Endpoint): Promise<KafkaConnection> {
    let c = this.connections.get(key)
    if (!c) {
      c = KafkaConnection.open({ host: leader.host, port: leader.port }, { clientId: this.clientId, requestTimeoutMs: REQUEST_TIMEOUT_MS })
      c.catch(() => this.drop(key))
      this.connections.set(key, c)
      this.log?.info({ broker: leader.nodeId, address: key }, 'connecting to a partition leader to write transaction markers')
    }
    return c
  }

  private drop(key: string): void {
    const c = this.connections.get(key)
    this.connections.delete(key)
    c?.then((conn) => conn.close(), () => undefined)
  }

  close(): void {
    this.closed = true
    for (const key of [...this.connections.keys()]) this.drop(key)
  }
}
