// The MSK topics API and cluster policies against a real cluster: a ControlPlane in this process
// runs a 3-broker KRaft cluster; the AWS SDK (@aws-sdk/client-kafka) drives the API over HTTP and
// KafkaJS, a real Kafka client, checks what the cluster's Kafka says: topics created, listed
// (prefix filter, nextToken), described (configs as base64 JSON), their partitions, updated
// (configs, more partitions; fewer refused), deleted; the errors MSK names; policies with
// optimistic concurrency. Then the server's async path with a fake admin: failures after an
// await mapped to their HTTP errors, a handler that never settles answered 503 at its deadline.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  CreateClusterCommand,
  CreateTopicCommand,
  DeleteClusterPolicyCommand,
  DeleteTopicCommand,
  DescribeTopicCommand,
  DescribeTopicPartitionsCommand,
  GetClusterPolicyCommand,
  KafkaClient,
  ListClustersCommand,
  ListTopicsCommand,
  PutClusterPolicyCommand,
  UpdateTopicCommand,
} from '@aws-sdk/client-kafka'
import kafkajs from 'kafkajs'
import { ClientError } from '../../cli/kafka-client.js'
import { ErrorCode, KafkaError } from '../../protocol/errors.js'
import type { ClusterAdmin } from '../cluster-admin.js'
import { ControlPlane } from '../control-plane.js'
import { createCluster, specOf, waitOperation } from '../test-support.js'
import { startTestApi } from './testing.js'

const { Kafka, logLevel } = kafkajs
type KafkaJSAdmin = ReturnType<InstanceType<typeof Kafka>['admin']>

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')
const json64 = (obj: Record<string, unknown>) => b64(JSON.stringify(obj))
const TOPIC_CONFIG_SOURCE = 1 // DescribeConfigs' DYNAMIC_TOPIC_CONFIG

/** The error an SDK call fails with: its name, HTTP status, message and invalidParameter. */
async function failure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string; invalidParameter?: string }> {
  try {
    await p
  } catch (err) {
    const e = err as { name: string; message: string; InvalidParameter?: string; $metadata?: { httpStatusCode?: number } }
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message, invalidParameter: e.InvalidParameter }
  }
  throw new Error('expected the call to fail')
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('MSK topics API and cluster policies on a real cluster', { timeout: 180_000 }, () => {
  let dir: string
  let cp: ControlPlane
  let arn = ''
  let sdk: KafkaClient
  let kafka: InstanceType<typeof Kafka>
  let admin: KafkaJSAdmin

  /** Partitions as KafkaJS's Metadata sees them, once every one has a leader. */
  const kafkajsPartitions = (topic: string, count: number) =>
    eventually(`${topic} with ${count} led partitions`, async () => {
      const md = await admin.fetchTopicMetadata({ topics: [topic] })
      const ps = [...(md.topics[0]?.partitions ?? [])].sort((a, b) => a.partitionId - b.partitionId)
      return ps.length === count && ps.every((p) => p.leader >= 0 && p.isr.length === p.replicas.length) ? ps : undefined
    })

  const topicConfigs = async (topic: string) => {
    const r = await admin.describeConfigs({ resources: [{ type: 2, name: topic }], includeSynonyms: false })
    return new Map((r.resources[0]?.configEntries ?? []).map((e) => [e.configName, e]))
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fjord-topics-'))
    cp = await ControlPlane.open({ dataDir: dir, host: '127.0.0.1', port: 0, reconciler: { usageCheckIntervalMs: 0 } })
    const c = createCluster(cp.store, cp.reconciler, 'topics', specOf(3))
    arn = c.arn
    assert.equal((await waitOperation(cp.store, c.op.arn, 90_000)).state, 'UPDATE_COMPLETE')
    sdk = new KafkaClient({ endpoint: cp.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' }, maxAttempts: 1 })
    kafka = new Kafka({ clientId: 'topics-test', brokers: cp.provisioner.get(arn)!.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } })
    admin = kafka.admin()
    await admin.connect()
  })

  after(async () => {
    await admin?.disconnect().catch(() => {})
    sdk?.destroy()
    await cp?.close({ stopClusters: true }).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })

  it('CreateTopic creates a real topic with its configs (base64 JSON, or base64 properties); KafkaJS sees it and produces to it', async () => {
    const created = await sdk.send(new CreateTopicCommand({
      ClusterArn: arn,
      TopicName: 'orders',
      PartitionCount: 3,
      ReplicationFactor: 3,
      Configs: json64({ 'retention.ms': '3600000', 'cleanup.policy': 'delete', 'min.insync.replicas': 2 }),
    }))
    const uuid = arn.split('/')[2]
    assert.equal(created.TopicArn, `arn:aws:kafka:us-east-1:000000000000:topic/topics/${uuid}/orders`)
    assert.equal(created.TopicName, 'orders')
    assert.equal(created.Status, 'CREATING')
    const ps = await kafkajsPartitions('orders', 3)
    assert.ok(ps.every((p) => p.replicas.length === 3))
    const configs = await topicConfigs('orders')
    assert.equal(configs.get('retention.ms')?.configValue, '3600000')
    assert.equal(configs.get('min.insync.replicas')?.configValue, '2')

    const producer = kafka.producer()
    await producer.connect()
    const sent = await producer.send({ topic: 'orders', acks: -1, messages: Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, value: `order ${i}` })) })
    await producer.disconnect()
    assert.ok(sent.every((r) => r.errorCode === 0))
    const offsets = await admin.fetchTopicOffsets('orders')
    assert.equal(offsets.reduce((n, o) => n + Number(o.high), 0), 6)

    await sdk.send(new CreateTopicCommand({ ClusterArn: arn, TopicName: 'audit', PartitionCount: 1, ReplicationFactor: 2, Configs: b64('# properties\nmax.message.bytes=2000000\n') }))
    await kafkajsPartitions('audit', 1)
    assert.equal((await topicConfigs('audit')).get('max.message.bytes')?.configValue, '2000000')
    for (const name of ['orders-eu', 'orders-us']) await sdk.send(new CreateTopicCommand({ ClusterArn: arn, TopicName: name, PartitionCount: 1, ReplicationFactor: 1 }))
  })

  it('ListTopics filters by prefix and pages with nextToken', async () => {
    await kafkajsPartitions('orders-us', 1)
    const first = await sdk.send(new ListTopicsCommand({ ClusterArn: arn, TopicNameFilter: 'orders', MaxResults: 2 }))
    assert.deepEqual(first.Topics?.map((t) => t.TopicName), ['orders', 'orders-eu'])
    assert.ok(first.NextToken)
    const second = await sdk.send(new ListTopicsCommand({ ClusterArn: arn, TopicNameFilter: 'orders', MaxResults: 2, NextToken: first.NextToken }))
    assert.deepEqual(second.Topics?.map((t) => t.TopicName), ['orders-us'])
    assert.equal(second.NextToken, undefined)
    const orders = first.Topics?.[0]
    assert.equal(orders?.PartitionCount, 3)
    assert.equal(orders?.ReplicationFactor, 3)
    assert.equal(orders?.OutOfSyncReplicaCount, 0)
    assert.equal(orders?.TopicArn, `${arn.replace(':cluster/', ':topic/')}/orders`)
    const all = await sdk.send(new ListTopicsCommand({ ClusterArn: arn }))
    const names = all.Topics?.map((t) => t.TopicName) ?? []
    for (const n of ['audit', 'orders', 'orders-eu', 'orders-us']) assert.ok(names.includes(n), `${n} in ${names}`)
    assert.deepEqual(names, [...names].sort())
    const none = await sdk.send(new ListTopicsCommand({ ClusterArn: arn, TopicNameFilter: 'nothing-' }))
    assert.deepEqual(none.Topics, [])
    const badToken = await failure(sdk.send(new ListTopicsCommand({ ClusterArn: arn, NextToken: 'garbage' })))
    assert.equal(badToken.status, 400)
    assert.equal(badToken.invalidParameter, 'nextToken')
  })

  it('DescribeTopic answers the counts and the configs as base64 JSON', async () => {
    const d = await sdk.send(new DescribeTopicCommand({ ClusterArn: arn, TopicName: 'orders' }))
    assert.equal(d.TopicName, 'orders')
    assert.equal(d.PartitionCount, 3)
    assert.equal(d.ReplicationFactor, 3)
    assert.equal(d.Status, 'ACTIVE')
    const configs = JSON.parse(Buffer.from(d.Configs ?? '', 'base64').toString('utf8')) as Record<string, string>
    assert.equal(configs['retention.ms'], '3600000')
    assert.equal(configs['cleanup.policy'], 'delete')
    assert.equal(configs['min.insync.replicas'], '2')
  })

  it("DescribeTopicPartitions matches KafkaJS's metadata, page by page", async () => {
    const ps = await kafkajsPartitions('orders', 3)
    const first = await sdk.send(new DescribeTopicPartitionsCommand({ ClusterArn: arn, TopicName: 'orders', MaxResults: 2 }))
    assert.equal(first.Partitions?.length, 2)
    assert.ok(first.NextToken)
    const rest = await sdk.send(new DescribeTopicPartitionsCommand({ ClusterArn: arn, TopicName: 'orders', MaxResults: 2, NextToken: first.NextToken }))
    assert.equal(rest.NextToken, undefined)
    const ours = [...(first.Partitions ?? []), ...(rest.Partitions ?? [])]
    assert.deepEqual(
      ours.map((p) => ({ partition: p.Partition, leader: p.Leader, replicas: p.Replicas, isr: [...(p.Isr ?? [])].sort() })),
      ps.map((p) => ({ partition: p.partitionId, leader: p.leader, replicas: p.replicas, isr: [...p.isr].sort() })),
    )
  })

  it('UpdateTopic sets configs (null: back to the default) and grows partitions; shrinking is refused', async () => {
    const u = await sdk.send(new UpdateTopicCommand({ ClusterArn: arn, TopicName: 'orders', Configs: json64({ 'retention.ms': '7200000', 'min.insync.replicas': null }), PartitionCount: 5 }))
    assert.equal(u.Status, 'UPDATING')
    assert.equal(u.TopicArn, `${arn.replace(':cluster/', ':topic/')}/orders`)
    const configs = await topicConfigs('orders')
    assert.equal(configs.get('retention.ms')?.configValue, '7200000')
    assert.notEqual(configs.get('min.insync.replicas')?.configSource, TOPIC_CONFIG_SOURCE)
    assert.equal(configs.get('cleanup.policy')?.configValue, 'delete', 'configs not named are kept')
    await kafkajsPartitions('orders', 5)
    const d = await sdk.send(new DescribeTopicCommand({ ClusterArn: arn, TopicName: 'orders' }))
    assert.equal(d.PartitionCount, 5)

    const shrink = await failure(sdk.send(new UpdateTopicCommand({ ClusterArn: arn, TopicName: 'orders', PartitionCount: 4 })))
    assert.equal(shrink.status, 400)
    assert.equal(shrink.name, 'BadRequestException')
    assert.equal(shrink.invalidParameter, 'partitionCount')
    assert.equal((await admin.fetchTopicMetadata({ topics: ['orders'] })).topics[0]?.partitions.length, 5)
    const nothing = await failure(sdk.send(new UpdateTopicCommand({ ClusterArn: arn, TopicName: 'orders' })))
    assert.equal(nothing.status, 400)
    const badConfig = await failure(sdk.send(new UpdateTopicCommand({ ClusterArn: arn, TopicName: 'orders', Configs: json64({ 'retention.ms': 'soon' }) })))
    assert.equal(badConfig.status, 400)
    assert.equal(badConfig.invalidParameter, 'configs')
    assert.match(badConfig.message, /INVALID_CONFIG/)
  })

  it('DeleteTopic deletes it from Kafka; DescribeTopic then answers 404', async () => {
    const d = await sdk.send(new DeleteTopicCommand({ ClusterArn: arn, TopicName: 'audit' }))
    assert.equal(d.Status, 'DELETING')
    await eventually('audit gone for KafkaJS', async () => ((await admin.listTopics()).includes('audit') ? undefined : true))
    const gone = await eventually('DescribeTopic 404', async () => {
      const f = await failure(sdk.send(new DescribeTopicCommand({ ClusterArn: arn, TopicName: 'audit' })))
      return f.status === 404 ? f : undefined
    })
    assert.equal(gone.name, 'NotFoundException')
    assert.equal(gone.invalidParameter, 'topicName')
    const again = await failure(sdk.send(new DeleteTopicCommand({ ClusterArn: arn, TopicName: 'audit' })))
    assert.equal(again.status, 404)
  })

  it('refuses what MSK refuses: unknown cluster or topic, an existing topic, bad names and counts, a cluster without brokers', async () => {
    const otherCluster = arn.replace(/\/[^/]+$/, '/00000000-0000-0000-0000-000000000000-1')
    const noCluster = await failure(sdk.send(new ListTopicsCommand({ ClusterArn: otherCluster })))
    assert.equal(noCluster.status, 404)
    assert.equal(noCluster.name, 'NotFoundException')
    const noTopic = await failure(sdk.send(new DescribeTopicPartitionsCommand({ ClusterArn: arn, TopicName: 'no-such-topic' })))
    assert.equal(noTopic.status, 404)
    assert.equal(noTopic.invalidParameter, 'topicName')
    const noUpdate = await failure(sdk.send(new UpdateTopicCommand({ ClusterArn: arn, TopicName: 'no-such-topic', PartitionCount: 9 })))
    assert.equal(noUpdate.status, 404)

    const dup = await failure(sdk.send(new CreateTopicCommand({ ClusterArn: arn, TopicName: 'orders', PartitionCount: 1, ReplicationFactor: 1 })))
    assert.equal(dup.status, 409)
    assert.equal(dup.name, 'TopicExistsException')
    assert.match(dup.message, /TOPIC_ALREADY_EXISTS/)

    const cases: Array<[Record<string, unknown>, string]> = [
      [{ TopicName: 'bad name!', PartitionCount: 1, ReplicationFactor: 1 }, 'topicName'],
      [{ TopicName: '..', PartitionCount: 1, ReplicationFactor: 1 }, 'topicName'],
      [{ TopicName: 'x'.repeat(250), PartitionCount: 1, ReplicationFactor: 1 }, 'topicName'],
      [{ TopicName: 'zero', PartitionCount: 0, ReplicationFactor: 1 }, 'partitionCount'],
      [{ TopicName: 'zero', PartitionCount: 1, ReplicationFactor: 0 }, 'replicationFactor'],
      [{ TopicName: 'wide', PartitionCount: 1, ReplicationFactor: 4 }, 'replicationFactor'], // 3 brokers: Kafka's INVALID_REPLICATION_FACTOR
      [{ TopicName: 'cfg', PartitionCount: 1, ReplicationFactor: 1, Configs: '!!not base64!!' }, 'configs'],
      [{ TopicName: 'cfg', PartitionCount: 1, ReplicationFactor: 1, Configs: json64({ 'retention.ms': { nested: 1 } }) }, 'configs'],
      [{ TopicName: 'cfg', PartitionCount: 1, ReplicationFactor: 1, Configs: b64('just words') }, 'configs'],
    ]
    for (const [input, member] of cases) {
      const f = await failure(sdk.send(new CreateTopicCommand({ ClusterArn: arn, ...input } as never)))
      assert.equal(f.status, 400, `${JSON.stringify(input).slice(0, 80)}: ${f.name} ${f.message}`)
      assert.equal(f.invalidParameter, member, `${JSON.stringify(input).slice(0, 80)}: ${f.message}`)
    }
    const listed = (await sdk.send(new ListTopicsCommand({ ClusterArn: arn }))).Topics?.map((t) => t.TopicName) ?? []
    for (const n of ['zero', 'wide', 'cfg']) assert.ok(!listed.includes(n), `${n} was not created`)
    const badPath = await failure(sdk.send(new DescribeTopicCommand({ ClusterArn: arn, TopicName: 'a b' })))
    assert.equal(badPath.status, 400)
    assert.equal(badPath.invalidParameter, 'topicName')

    // A cluster with no brokers (FAILED, nothing provisioned): a clear 400 naming the cluster, no Kafka asked.
    const record = cp.store.getCluster(arn)!
    const failedArn = arn.replace(/\/[^/]+$/, '/11111111-1111-1111-1111-111111111111-1')
    cp.store.insertCluster({ ...record, arn: failedArn, uuid: '11111111-1111-1111-1111-111111111111-1', state: 'FAILED', runtime: null, activeOperationArn: null })
    const failed = await failure(sdk.send(new ListTopicsCommand({ ClusterArn: failedArn })))
    assert.equal(failed.status, 400)
    assert.equal(failed.invalidParameter, 'clusterArn')
    assert.match(failed.message, /FAILED/)
    cp.store.deleteCluster(failedArn)
  })

  it('cluster policies: put, get, a stale currentVersion refused, delete, then 404', async () => {
    const none = await failure(sdk.send(new GetClusterPolicyCommand({ ClusterArn: arn })))
    assert.equal(none.status, 404)
    assert.equal(none.name, 'NotFoundException')
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: ['kafka:DescribeCluster'], Resource: arn }] })
    const v1 = (await sdk.send(new PutClusterPolicyCommand({ ClusterArn: arn, Policy: policy }))).CurrentVersion
    assert.ok(v1)
    const got = await sdk.send(new GetClusterPolicyCommand({ ClusterArn: arn }))
    assert.equal(got.CurrentVersion, v1)
    assert.equal(got.Policy, policy)
    const v2 = (await sdk.send(new PutClusterPolicyCommand({ ClusterArn: arn, Policy: policy, CurrentVersion: v1 }))).CurrentVersion
    assert.ok(v2 && v2 !== v1)
    const stale = await failure(sdk.send(new PutClusterPolicyCommand({ ClusterArn: arn, Policy: policy, CurrentVersion: v1 })))
    assert.equal(stale.status, 400)
    assert.equal(stale.invalidParameter, 'currentVersion')
    assert.equal((await sdk.send(new GetClusterPolicyCommand({ ClusterArn: arn }))).CurrentVersion, v2)
    const notJson = await failure(sdk.send(new PutClusterPolicyCommand({ ClusterArn: arn, Policy: 'allow everything' })))
    assert.equal(notJson.status, 400)
    assert.equal(notJson.invalidParameter, 'policy')
    const unknown = await failure(sdk.send(new PutClusterPolicyCommand({ ClusterArn: arn.replace(/\/[^/]+$/, '/nope'), Policy: policy })))
    assert.equal(unknown.status, 404)

    await sdk.send(new DeleteClusterPolicyCommand({ ClusterArn: arn }))
    const deleted = await failure(sdk.send(new GetClusterPolicyCommand({ ClusterArn: arn })))
    assert.equal(deleted.status, 404)
    await sdk.send(new DeleteClusterPolicyCommand({ ClusterArn: arn })) // none left: still answered
  })
})

describe('async handlers: a late answer or a failure after an await', () => {
  /** An admin whose Metadata fails (or never answers) the way `fail` says, after an await. */
  const fakeAdmin = (fail: () => Promise<never>) => ({ topics: async () => { await new Promise((r) => setImmediate(r)); return fail() } }) as unknown as ClusterAdmin

  it('maps a rejection after an await to its HTTP error, and answers 503 when the handler outlasts handlerTimeoutMs; the server keeps serving', async () => {
    let fail: () => Promise<never> = () => Promise.reject(new KafkaError(ErrorCode.REQUEST_TIMED_OUT, 'slow'))
    const api = await startTestApi({ handlerTimeoutMs: 300, kafkaAdmin: () => fakeAdmin(() => fail()) })
    try {
      const created = await api.client.send(new CreateClusterCommand({
        ClusterName: 'fake',
        KafkaVersion: '3.7.x.kraft',
        NumberOfBrokerNodes: 3,
        BrokerNodeGroupInfo: { ClientSubnets: ['a', 'b', 'c'], InstanceType: 'kafka.m5.large', StorageInfo: { EbsStorageInfo: { VolumeSize: 10 } } },
      }))
      const arn = created.ClusterArn as string
      const creating = await failure(api.client.send(new ListTopicsCommand({ ClusterArn: arn })))
      assert.equal(creating.status, 400, 'CREATING: no brokers to ask')
      api.complete(arn)

      const timedOut = await failure(api.client.send(new ListTopicsCommand({ ClusterArn: arn })))
      assert.equal(timedOut.status, 409)
      assert.equal(timedOut.name, 'KafkaTimeoutException')
      assert.match(timedOut.message, /REQUEST_TIMED_OUT/)

      fail = () => Promise.reject(new Error('Metadata: gave up', { cause: new ClientError('connection refused') }))
      const unreachable = await failure(api.client.send(new DescribeTopicCommand({ ClusterArn: arn, TopicName: 't' })))
      assert.equal(unreachable.status, 409)
      assert.equal(unreachable.name, 'ClusterConnectivityException')

      fail = () => Promise.reject(new TypeError('a bug'))
      const bug = await failure(api.client.send(new ListTopicsCommand({ ClusterArn: arn })))
      assert.equal(bug.status, 500)
      assert.equal(bug.name, 'InternalServerErrorException')

      fail = () => new Promise<never>(() => {}) // never settles
      const t0 = Date.now()
      const hung = await failure(api.client.send(new ListTopicsCommand({ ClusterArn: arn })))
      assert.equal(hung.status, 503)
      assert.equal(hung.name, 'ServiceUnavailableException')
      assert.ok(Date.now() - t0 < 5000, 'answered at handlerTimeoutMs, not later')

      // Bad input still fails before any await, as 400.
      const badName = await failure(api.client.send(new CreateTopicCommand({ ClusterArn: arn, TopicName: 'no/slash?', PartitionCount: 1, ReplicationFactor: 1 })))
      assert.equal(badName.status, 400)
      assert.equal((await api.client.send(new ListClustersCommand({}))).ClusterInfoList?.length, 1)
    } finally {
      await api.close()
    }
  })
})
