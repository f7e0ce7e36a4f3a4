// Test support for the API tests: a server on port 0 over a store in a temp file, a runner that
// records its wakes, and `complete`, which finishes an operation the way the reconciler does.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KafkaClient } from '@aws-sdk/client-kafka'
import type { BrokerRuntime, ClusterSpec, ControlPlaneStore, OperationRunner } from '../model.js'
import { startApiServer, type ApiServer, type ApiServerOptions } from '../http/server.js'
import { openStore } from '../store.js'

export interface TestApi {
  server: ApiServer
  store: ControlPlaneStore
  wakes: string[]
  client: KafkaClient
  /** Finishes the cluster's active operation as the reconciler would: spec applied, ACTIVE, brokers running. */
  complete(clusterArn: string): void
  close(): Promise<void>
}

/** kafkaAdmin: how topics reach a cluster's Kafka; without it they answer 400 (no brokers run here). */
export async function startTestApi(options: Pick<ApiServerOptions, 'requestTimeoutMs' | 'handlerTimeoutMs' | 'kafkaAdmin'> = {}): Promise<TestApi> {
  const dir = mkdtempSync(join(tmpdir(), 'fjord-api-'))
  const store = openStore(join(dir, 'control-plane.db'))
  const wakes: string[] = []
  const runner: OperationRunner = { wake: (arn) => void wakes.push(arn) }
  const server = await startApiServer({ store, runner, host: '127.0.0.1', port: 0, account: '123456789012', ...options })
  const client = new KafkaClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' },
    maxAttempts: 1,
  })
  return {
    server,
    store,
    wakes,
    client,
    complete(clusterArn) {
      const now = new Date().toISOString()
      store.transaction(() => {
        const cluster = store.getCluster(clusterArn)
        if (cluster?.activeOperationArn == null) throw new Error(`no active operation on ${clusterArn}`)
        const op = store.updateOperation(cluster.activeOperationArn, (o) => {
          o.state = 'UPDATE_COMPLETE'
          o.endTime = now
          o.steps = [{ stepName: 'DONE', stepStatus: 'COMPLETE' }]
        })
        if (op.type === 'DELETE') return store.deleteCluster(clusterArn)
        store.updateCluster(clusterArn, (c) => {
          Object.assign(c.spec, op.targetClusterInfo as Partial<ClusterSpec>)
          c.state = 'ACTIVE'
          c.activeOperationArn = null
          const subnets = c.spec.brokerNodeGroupInfo.clientSubnets
          const brokers: BrokerRuntime[] = Array.from({ length: c.spec.numberOfBrokerNodes }, (_, i) => ({
            id: i + 1,
            zone: `zone-${(i % subnets.length) + 1}`,
            clientSubnet: subnets[i % subnets.length] as string,
            host: '127.0.0.1',
            port: 19092 + i,
            dataDir: join(dir, `broker-${i + 1}`),
            volumeSizeBytes: 1000 * 2 ** 30,
            usedBytes: 4096 * (i + 1),
            usedAt: now,
            addedTime: now,
          }))
          c.runtime = { dataDir: dir, metadataMode: 'embedded', zookeeper: null, notice: null, brokers, lastAutoScaleAt: null }
        })
      })
    },
    async close() {
      client.destroy()
      await server.close()
      store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
