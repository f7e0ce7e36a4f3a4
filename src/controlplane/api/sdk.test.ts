// Drives the MSK API with the real AWS SDK for JavaScript (@aws-sdk/client-kafka): it percent-
// encodes ARNs in paths, signs with SigV4 and parses MSK's error shape, as users' code does.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  BatchAssociateScramSecretCommand,
  BatchDisassociateScramSecretCommand,
  CreateClusterCommand,
  CreateClusterV2Command,
  CreateConfigurationCommand,
  DeleteClusterCommand,
  DeleteConfigurationCommand,
  DescribeClusterCommand,
  DescribeClusterOperationCommand,
  DescribeClusterOperationV2Command,
  DescribeClusterV2Command,
  DescribeConfigurationCommand,
  DescribeConfigurationRevisionCommand,
  GetBootstrapBrokersCommand,
  GetCompatibleKafkaVersionsCommand,
  ListClusterOperationsCommand,
  ListClusterOperationsV2Command,
  ListClustersCommand,
  ListClustersV2Command,
  ListConfigurationRevisionsCommand,
  ListConfigurationsCommand,
  ListKafkaVersionsCommand,
  ListNodesCommand,
  ListReplicatorsCommand,
  ListScramSecretsCommand,
  ListTagsForResourceCommand,
  ListTopicsCommand,
  RebootBrokerCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateBrokerCountCommand,
  UpdateBrokerStorageCommand,
  UpdateBrokerTypeCommand,
  UpdateClusterConfigurationCommand,
  UpdateClusterKafkaVersionCommand,
  UpdateConfigurationCommand,
  UpdateConnectivityCommand,
  UpdateMonitoringCommand,
  UpdateRebalancingCommand,
  UpdateSecurityCommand,
  UpdateStorageCommand,
  type KafkaClient,
} from '@aws-sdk/client-kafka'
import { startTestApi, type TestApi } from './testing.js'

const SUBNETS = ['subnet-a', 'subnet-b', 'subnet-c']
const props = (text: string) => new TextEncoder().encode(text)

function provisioned(name: string, extra: Record<string, unknown> = {}) {
  return {
    ClusterName: name,
    KafkaVersion: '3.7.x.kraft',
    NumberOfBrokerNodes: 3,
    BrokerNodeGroupInfo: { ClientSubnets: SUBNETS, InstanceType: 'kafka.m5.large', StorageInfo: { EbsStorageInfo: { VolumeSize: 100 } } },
    ...extra,
  }
}

/** The error an SDK call fails with: its name, HTTP status and invalidParameter. */
async function failure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string; invalidParameter?: string }> {
  try {
    await p
  } catch (err) {
    const e = err as { name: string; message: string; InvalidParameter?: string; $metadata?: { httpStatusCode?: number }; $response?: unknown }
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message, invalidParameter: e.InvalidParameter }
  }
  throw new Error('expected the call to fail')
}

async function createActive(api: TestApi, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const created = await api.client.send(new CreateClusterCommand(provisioned(name, extra) as never))
  const arn = created.ClusterArn as string
  api.complete(arn)
  return arn
}

async function version(client: KafkaClient, arn: string): Promise<string> {
  const d = await client.send(new DescribeClusterCommand({ ClusterArn: arn }))
  return d.ClusterInfo?.CurrentVersion as string
}

test('create, describe, list, bootstrap brokers, nodes and delete a provisioned cluster', async () => {
  const api = await startTestApi()
  try {
    const { client } = api
    const created = await client.send(new CreateClusterCommand(provisioned('orders', { Tags: { team: 'payments' } }) as never))
    assert.equal(created.ClusterName, 'orders')
    assert.equal(created.State, 'CREATING')
    const arn = created.ClusterArn as string
    assert.match(arn, /^arn:aws:kafka:us-east-1:123456789012:cluster\/orders\/[0-9a-f-]{36}$/)
    assert.deepEqual(api.wakes, [arn])

    const creating = (await client.send(new DescribeClusterCommand({ ClusterArn: arn }))).ClusterInfo
    assert.equal(creating?.State, 'CREATING')
    assert.match(creating?.CurrentVersion ?? '', /^[A-Z0-9]{14}$/)
    assert.ok(creating?.ActiveOperationArn?.includes(':cluster-operation/orders/'))
    assert.ok(creating?.CreationTime instanceof Date)
    assert.deepEqual(creating?.Tags, { team: 'payments' })
    assert.equal(creating?.NumberOfBrokerNodes, 3)
    assert.equal(creating?.CurrentBrokerSoftwareInfo?.KafkaVersion, '3.7.x.kraft')
    assert.equal(creating?.BrokerNodeGroupInfo?.StorageInfo?.EbsStorageInfo?.VolumeSize, 100)

    const early = await failure(client.send(new GetBootstrapBrokersCommand({ ClusterArn: arn })))
    assert.equal(early.name, 'ConflictException')
    assert.equal(early.status, 409)
    assert.deepEqual((await client.send(new ListNodesCommand({ ClusterArn: arn }))).NodeInfoList, [])

    api.complete(arn)
    const bootstrap = await client.send(new GetBootstrapBrokersCommand({ ClusterArn: arn }))
    assert.equal(bootstrap.BootstrapBrokerString, '127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094')
    const nodes = (await client.send(new ListNodesCommand({ ClusterArn: arn }))).NodeInfoList ?? []
    assert.equal(nodes.length, 3)
    const node = nodes[0]
    assert.equal(node?.NodeType, 'BROKER')
    assert.equal(node?.InstanceType, 'kafka.m5.large')
    assert.equal(node?.BrokerNodeInfo?.BrokerId, 1)
    assert.equal(node?.BrokerNodeInfo?.ClientSubnet, 'subnet-a')
    assert.deepEqual(node?.BrokerNodeInfo?.Endpoints, ['127.0.0.1'])
    assert.equal(node?.BrokerNodeInfo?.CurrentBrokerSoftwareInfo?.KafkaVersion, '3.7.x.kraft')
    assert.match(node?.NodeARN ?? '', /:broker\/orders\/.+\/1$/)
    const paged = await client.send(new ListNodesCommand({ ClusterArn: arn, MaxResults: 2 }))
    assert.equal(paged.NodeInfoList?.length, 2)
    assert.ok(paged.NextToken)

    const listed = await client.send(new ListClustersCommand({}))
    assert.deepEqual(listed.ClusterInfoList?.map((c) => c.ClusterName), ['orders'])
    const v2 = (await client.send(new DescribeClusterV2Command({ ClusterArn: arn }))).ClusterInfo
    assert.equal(v2?.ClusterType, 'PROVISIONED')
    assert.equal(v2?.Provisioned?.NumberOfBrokerNodes, 3)

    const stale = await failure(client.send(new DeleteClusterCommand({ ClusterArn: arn, CurrentVersion: 'NOTTHEVERSION1' })))
    assert.equal(stale.name, 'ConflictException')
    const deleted = await client.send(new DeleteClusterCommand({ ClusterArn: arn, CurrentVersion: await version(client, arn) }))
    assert.equal(deleted.State, 'DELETING')
    const again = await failure(client.send(new DeleteClusterCommand({ ClusterArn: arn })))
    assert.equal(again.name, 'BadRequestException')
    const ops = (await client.send(new ListClusterOperationsCommand({ ClusterArn: arn }))).ClusterOperationInfoList ?? []
    assert.deepEqual(ops.map((o) => o.OperationType), ['DELETE', 'CREATE'])
    api.complete(arn)
    const gone = await failure(client.send(new DescribeClusterCommand({ ClusterArn: arn })))
    assert.equal(gone.name, 'NotFoundException')
    assert.equal(gone.status, 404)
  } finally {
    await api.close()
  }
})

test('CreateClusterV2 provisioned and serverless, ListClustersV2 filters and pagination', async () => {
  const api = await startTestApi()
  try {
    const { client } = api
    const p = await client.send(
      new CreateClusterV2Command({
        ClusterName: 'prov-1',
        Provisioned: {
          KafkaVersion: '3.9.x',
          NumberOfBrokerNodes: 2,
          BrokerNodeGroupInfo: { ClientSubnets: ['s1', 's2'], InstanceType: 'kafka.t3.small' },
        },
      }),
    )
    assert.equal(p.ClusterType, 'PROVISIONED')
    assert.equal(p.State, 'CREATING')
    const s = await client.send(
      new CreateClusterV2Command({ ClusterName: 'serverless-1', Serverless: { VpcConfigs: [{ SubnetIds: ['only-one'] }] } }),
    )
    assert.equal(s.ClusterType, 'SERVERLESS')
    const record = api.store.getCluster(s.ClusterArn as string)
    assert.equal(record?.spec.numberOfBrokerNodes, 3)
    assert.deepEqual(record?.spec.brokerNodeGroupInfo.clientSubnets, ['only-one', 'only-one', 'only-one'])
    const sv = (await client.send(new DescribeClusterV2Command({ ClusterArn: s.ClusterArn }))).ClusterInfo
    assert.deepEqual(sv?.Serverless?.VpcConfigs, [{ SubnetIds: ['only-one'] }])
    const v1 = await failure(client.send(new DescribeClusterCommand({ ClusterArn: s.ClusterArn })))
    assert.equal(v1.name, 'BadRequestException')
    for (const n of ['prov-2', 'prov-3', 'other']) await client.send(new CreateClusterCommand(provisioned(n) as never))

    const serverlessOnly = await client.send(new ListClustersV2Command({ ClusterTypeFilter: 'SERVERLESS' }))
    assert.deepEqual(serverlessOnly.ClusterInfoList?.map((c) => c.ClusterName), ['serverless-1'])
    const badType = await failure(client.send(new ListClustersV2Command({ ClusterTypeFilter: 'BIG' })))
    assert.equal(badType.invalidParameter, 'clusterTypeFilter')
    const names: string[] = []
    let token: string | undefined
    let pages = 0
    do {
      const page = await client.send(new ListClustersCommand({ ClusterNameFilter: 'prov', MaxResults: 2, NextToken: token }))
      names.push(...(page.ClusterInfoList ?? []).map((c) => c.ClusterName as string))
      token = page.NextToken
      pages++
    } while (token)
    assert.deepEqual(names, ['prov-1', 'prov-2', 'prov-3'])
    assert.equal(pages, 2)
    const all = await client.send(new ListClustersV2Command({}))
    assert.equal(all.ClusterInfoList?.length, 5)
    const badToken = await failure(client.send(new ListClustersCommand({ NextToken: 'garbage!' })))
    assert.equal(badToken.invalidParameter, 'nextToken')
    const badMax = await failure(client.send(new ListClustersCommand({ MaxResults: 500 })))
    assert.equal(badMax.invalidParameter, 'maxResults')
    // Another region sees none of them.
    const other = new (client.constructor as typeof KafkaClient)({
      endpoint: api.server.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' },
    })
    assert.deepEqual((await other.send(new ListClustersV2Command({}))).ClusterInfoList, [])
    const eu = await other.send(new CreateClusterCommand(provisioned('prov-1') as never))
    assert.match(eu.ClusterArn ?? '', /^arn:aws:kafka:eu-west-1:/)
    other.destroy()
  } finally {
    await api.close()
  }
})

test('create validation: each rule refused with 400 naming the parameter; duplicate name 409', async () => {
  const api = await startTestApi()
  try {
    const { client } = api
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['bad name', provisioned('-bad'), 'clusterName'],
      ['long name', provisioned('x'.repeat(65)), 'clusterName'],
      ['unknown version', provisioned('a', { KafkaVersion: '1.0.0' }), 'kafkaVersion'],
      ['one subnet', provisioned('a', { BrokerNodeGroupInfo: { ClientSubnets: ['s1'], InstanceType: 'kafka.m5.large' } }), 'clientSubnets'],
      ['repeated subnet', provisioned('a', { BrokerNodeGroupInfo: { ClientSubnets: ['s1', 's1'], InstanceType: 'kafka.m5.large' } }), 'clientSubnets'],
      ['four subnets', provisioned('a', { BrokerNodeGroupInfo: { ClientSubnets: ['1', '2', '3', '4'], InstanceType: 'kafka.m5.large' } }), 'clientSubnets'],
      ['not a multiple', provisioned('a', { NumberOfBrokerNodes: 4 }), 'numberOfBrokerNodes'],
      ['zero brokers', provisioned('a', { NumberOfBrokerNodes: 0 }), 'numberOfBrokerNodes'],
      ['too many zookeeper brokers', provisioned('a', { KafkaVersion: '3.7.x', NumberOfBrokerNodes: 33 }), 'numberOfBrokerNodes'],
      ['instance type', provisioned('a', { BrokerNodeGroupInfo: { ClientSubnets: SUBNETS, InstanceType: 'm5.large' } }), 'instanceType'],
      [
        'volume size',
        provisioned('a', { BrokerNodeGroupInfo: { ClientSubnets: SUBNETS, InstanceType: 'kafka.m5.large', StorageInfo: { EbsStorageInfo: { VolumeSize: 20000 } } } }),
        'volumeSize',
      ],
      ['configuration', provisioned('a', { ConfigurationInfo: { Arn: 'arn:aws:kafka:us-east-1:123456789012:configuration/x/y', Revision: 1 } }), 'configurationInfo'],
      ['monitoring', provisioned('a', { EnhancedMonitoring: 'LOTS' }), 'enhancedMonitoring'],
    ]
    for (const [what, input, parameter] of cases) {
      const e = await failure(client.send(new CreateClusterCommand(input as never)))
      assert.equal(e.name, 'BadRequestException', what)
      assert.equal(e.status, 400, what)
      assert.equal(e.invalidParameter, parameter, `${what}: ${e.message}`)
    }
    // KRaft allows 60 brokers, ZooKeeper 30.
    await client.send(new CreateClusterCommand(provisioned('big-kraft', { NumberOfBrokerNodes: 45 }) as never))
    const neither = await failure(client.send(new CreateClusterV2Command({ ClusterName: 'n' })))
    assert.equal(neither.name, 'BadRequestException')
    const noSubnets = await failure(client.send(new CreateClusterV2Command({ ClusterName: 'n', Serverless: { VpcConfigs: [] } })))
    assert.equal(noSubnets.invalidParameter, 'vpcConfigs')
    await client.send(new CreateClusterCommand(provisioned('dup') as never))
    const dup = await failure(client.send(new CreateClusterCommand(provisioned('dup') as never)))
    assert.equal(dup.name, 'ConflictException')
    assert.equal(dup.status, 409)
    assert.equal(dup.invalidParameter, 'clusterName')
    assert.equal(api.store.listClusters().length, 2)
  } finally {
    await api.close()
  }
})

test('every Update* operation records its target, moves the cluster and wakes the runner', async () => {
  const api = await startTestApi()
  try {
    const { client, store } = api
    const config = await client.send(
      new CreateConfigurationCommand({ Name: 'tuned', ServerProperties: props('auto.create.topics.enable=false\n'), KafkaVersions: ['3.7.x.kraft', '3.8.x.kraft'] }),
    )
    const arn = await createActive(api, 'upd', { ClientAuthentication: { Sasl: { Scram: { Enabled: true } } } })
    const before = store.getCluster(arn)
    assert.equal(before?.state, 'ACTIVE')

    type Step = [string, (v: string) => Promise<{ ClusterOperationArn?: string }>, string, Record<string, unknown> | null]
    const steps: Step[] = [
      ['UPDATE_BROKER_COUNT', (v) => client.send(new UpdateBrokerCountCommand({ ClusterArn: arn, CurrentVersion: v, TargetNumberOfBrokerNodes: 6 })), 'UPDATING', { numberOfBrokerNodes: 6 }],
      ['UPDATE_BROKER_STORAGE', (v) => client.send(new UpdateBrokerStorageCommand({ ClusterArn: arn, CurrentVersion: v, TargetBrokerEBSVolumeInfo: [{ KafkaBrokerNodeId: 'ALL', VolumeSizeGB: 200 }] })), 'UPDATING', null],
      ['UPDATE_STORAGE', (v) => client.send(new UpdateStorageCommand({ ClusterArn: arn, CurrentVersion: v, VolumeSizeGB: 300 })), 'UPDATING', null],
      ['UPDATE_BROKER_TYPE', (v) => client.send(new UpdateBrokerTypeCommand({ ClusterArn: arn, CurrentVersion: v, TargetInstanceType: 'kafka.m5.xlarge' })), 'UPDATING', null],
      ['UPDATE_CLUSTER_CONFIGURATION', (v) => client.send(new UpdateClusterConfigurationCommand({ ClusterArn: arn, CurrentVersion: v, ConfigurationInfo: { Arn: config.Arn, Revision: 1 } })), 'UPDATING', { configurationInfo: { arn: config.Arn, revision: 1 } }],
      ['UPDATE_CLUSTER_KAFKA_VERSION', (v) => client.send(new UpdateClusterKafkaVersionCommand({ ClusterArn: arn, CurrentVersion: v, TargetKafkaVersion: '3.8.x.kraft' })), 'UPDATING', { kafkaVersion: '3.8.x.kraft' }],
      ['UPDATE_MONITORING', (v) => client.send(new UpdateMonitoringCommand({ ClusterArn: arn, CurrentVersion: v, EnhancedMonitoring: 'PER_BROKER', OpenMonitoring: { Prometheus: { JmxExporter: { EnabledInBroker: true } } } })), 'UPDATING', { enhancedMonitoring: 'PER_BROKER', openMonitoring: { prometheus: { jmxExporter: { enabledInBroker: true } } } }],
      ['UPDATE_SECURITY', (v) => client.send(new UpdateSecurityCommand({ ClusterArn: arn, CurrentVersion: v, ClientAuthentication: { Sasl: { Scram: { Enabled: true }, Iam: { Enabled: true } } } })), 'UPDATING', { clientAuthentication: { sasl: { scram: { enabled: true }, iam: { enabled: true } } } }],
      ['UPDATE_CONNECTIVITY', (v) => client.send(new UpdateConnectivityCommand({ ClusterArn: arn, CurrentVersion: v, ConnectivityInfo: { PublicAccess: { Type: 'DISABLED' } } })), 'UPDATING', null],
      ['UPDATE_REBALANCING', (v) => client.send(new UpdateRebalancingCommand({ ClusterArn: arn, CurrentVersion: v, Rebalancing: { Status: 'ACTIVE' } })), 'UPDATING', { rebalancing: { status: 'ACTIVE' } }],
      ['REBOOT_NODE', () => client.send(new RebootBrokerCommand({ ClusterArn: arn, BrokerIds: ['2'] })), 'REBOOTING_BROKER', null],
    ]
    for (const [type, call, state, target] of steps) {
      const v = await version(client, arn)
      const specBefore = structuredClone(store.getCluster(arn)?.spec)
      const answer = await call(v)
      const cluster = store.getCluster(arn)
      const op = store.getOperation(answer.ClusterOperationArn as string)
      assert.equal(op?.type, type)
      assert.equal(op?.state, 'PENDING')
      assert.deepEqual(op?.steps, [])
      assert.equal(cluster?.state, state, type)
      assert.equal(cluster?.activeOperationArn, op?.arn)
      assert.notEqual(cluster?.currentVersion, v)
      assert.deepEqual(cluster?.spec, specBefore, `${type}: the spec waits for the reconciler`)
      if (target !== null) assert.deepEqual(op?.targetClusterInfo, target, type)
      assert.equal(api.wakes.at(-1), arn)
      // While it runs, another update is refused with 409 naming the state.
      const busy = await failure(client.send(new UpdateBrokerCountCommand({ ClusterArn: arn, CurrentVersion: cluster?.currentVersion, TargetNumberOfBrokerNodes: 9 })))
      assert.equal(busy.name, 'ConflictException', type)
      assert.match(busy.message, new RegExp(state))
      api.complete(arn)
    }
    const ops = store.listOperations(arn)
    const byType = Object.fromEntries(ops.map((o) => [o.type, o]))
    assert.equal(byType.UPDATE_BROKER_STORAGE?.targetClusterInfo?.brokerNodeGroupInfo?.storageInfo?.ebsStorageInfo?.volumeSize, 200)
    assert.equal(byType.UPDATE_STORAGE?.targetClusterInfo?.brokerNodeGroupInfo?.storageInfo?.ebsStorageInfo?.volumeSize, 300)
    assert.equal(byType.UPDATE_BROKER_TYPE?.targetClusterInfo?.brokerNodeGroupInfo?.instanceType, 'kafka.m5.xlarge')
    assert.deepEqual(byType.UPDATE_CONNECTIVITY?.targetClusterInfo?.brokerNodeGroupInfo?.connectivityInfo, { publicAccess: { type: 'DISABLED' } })
    assert.deepEqual(byType.REBOOT_NODE?.params, { brokerIds: [2] })
    assert.equal(byType.REBOOT_NODE?.targetClusterInfo, null)

    const after = (await client.send(new DescribeClusterCommand({ ClusterArn: arn }))).ClusterInfo
    assert.equal(after?.NumberOfBrokerNodes, 6)
    assert.equal(after?.BrokerNodeGroupInfo?.InstanceType, 'kafka.m5.xlarge')
    assert.equal(after?.BrokerNodeGroupInfo?.StorageInfo?.EbsStorageInfo?.VolumeSize, 300)
    assert.equal(after?.CurrentBrokerSoftwareInfo?.KafkaVersion, '3.8.x.kraft')
    assert.equal(after?.CurrentBrokerSoftwareInfo?.ConfigurationArn, config.Arn)
    assert.equal(after?.EnhancedMonitoring, 'PER_BROKER')
    assert.equal(after?.Rebalancing?.Status, 'ACTIVE')

    // Operations, V1 and V2.
    const storageOp = byType.UPDATE_BROKER_STORAGE?.arn as string
    const d1 = (await client.send(new DescribeClusterOperationCommand({ ClusterOperationArn: storageOp }))).ClusterOperationInfo
    assert.equal(d1?.OperationType, 'UPDATE_BROKER_STORAGE')
    assert.equal(d1?.OperationState, 'UPDATE_COMPLETE')
    assert.deepEqual(d1?.OperationSteps, [{ StepName: 'DONE', StepInfo: { StepStatus: 'COMPLETE' } }])
    assert.deepEqual(d1?.SourceClusterInfo?.BrokerEBSVolumeInfo, [{ KafkaBrokerNodeId: 'ALL', VolumeSizeGB: 100 }])
    assert.deepEqual(d1?.TargetClusterInfo?.BrokerEBSVolumeInfo, [{ KafkaBrokerNodeId: 'ALL', VolumeSizeGB: 200 }])
    const countOp = byType.UPDATE_BROKER_COUNT?.arn as string
    const d2 = (await client.send(new DescribeClusterOperationV2Command({ ClusterOperationArn: countOp }))).ClusterOperationInfo
    assert.equal(d2?.ClusterType, 'PROVISIONED')
    assert.ok(d2?.StartTime instanceof Date)
    assert.equal(d2?.Provisioned?.SourceClusterInfo?.NumberOfBrokerNodes, 3)
    assert.equal(d2?.Provisioned?.TargetClusterInfo?.NumberOfBrokerNodes, 6)
    const typeOp = (await client.send(new DescribeClusterOperationCommand({ ClusterOperationArn: byType.UPDATE_BROKER_TYPE?.arn }))).ClusterOperationInfo
    assert.equal(typeOp?.TargetClusterInfo?.InstanceType, 'kafka.m5.xlarge')
    const v2list = await client.send(new ListClusterOperationsV2Command({ ClusterArn: arn, MaxResults: 5 }))
    assert.equal(v2list.ClusterOperationInfoList?.length, 5)
    assert.equal(v2list.ClusterOperationInfoList?.[0]?.OperationType, 'REBOOT_NODE')
    const rest = await client.send(new ListClusterOperationsV2Command({ ClusterArn: arn, NextToken: v2list.NextToken }))
    assert.equal(rest.ClusterOperationInfoList?.length, 7)
    assert.equal(rest.NextToken, undefined)
    const noOp = await failure(client.send(new DescribeClusterOperationCommand({ ClusterOperationArn: `${arn}-nope` })))
    assert.equal(noOp.name, 'NotFoundException')
  } finally {
    await api.close()
  }
})

test('Update* refusals: 404 unknown ARN, 409 stale version, 400 naming the parameter', async () => {
  const api = await startTestApi()
  try {
    const { client } = api
    const arn = await createActive(api, 'strict', { KafkaVersion: '3.7.x' })
    const v = await version(client, arn)
    const unknown = await failure(client.send(new UpdateBrokerCountCommand({ ClusterArn: arn.replace('strict', 'nope'), CurrentVersion: v, TargetNumberOfBrokerNodes: 6 })))
    assert.equal(unknown.name, 'NotFoundException')
    assert.equal(unknown.status, 404)
    const stale = await failure(client.send(new UpdateBrokerCountCommand({ ClusterArn: arn, CurrentVersion: 'K0000000000000', TargetNumberOfBrokerNodes: 6 })))
    assert.equal(stale.name, 'ConflictException')
    assert.equal(stale.status, 409)
    assert.equal(stale.invalidParameter, 'currentVersion')
    const cases: Array<[string, () => Promise<unknown>, string]> = [
      ['no version', () => client.send(new UpdateBrokerCountCommand({ ClusterArn: arn, TargetNumberOfBrokerNodes: 6 } as never)), 'currentVersion'],
      ['count not multiple', () => client.send(new UpdateBrokerCountCommand({ ClusterArn: arn, CurrentVersion: v, TargetNumberOfBrokerNodes: 4 })), 'targetNumberOfBrokerNodes'],
      ['count over zookeeper max', () => client.send(new UpdateBrokerCountCommand({ ClusterArn: arn, CurrentVersion: v, TargetNumberOfBrokerNodes: 33 })), 'targetNumberOfBrokerNodes'],
      ['same count', () => client.send(new UpdateBrokerCountCommand({ ClusterArn: arn, CurrentVersion: v, TargetNumberOfBrokerNodes: 3 })), 'targetNumberOfBrokerNodes'],
      ['shrink storage', () => client.send(new UpdateBrokerStorageCommand({ ClusterArn: arn, CurrentVersion: v, TargetBrokerEBSVolumeInfo: [{ KafkaBrokerNodeId: 'ALL', VolumeSizeGB: 50 }] })), 'volumeSizeGB'],
      ['storage too big', () => client.send(new UpdateStorageCommand({ ClusterArn: arn, CurrentVersion: v, VolumeSizeGB: 17000 })), 'volumeSizeGB'],
      ['storage nothing', () => client.send(new UpdateStorageCommand({ ClusterArn: arn, CurrentVersion: v })), 'volumeSizeGB'],
      ['unknown broker storage', () => client.send(new UpdateBrokerStorageCommand({ ClusterArn: arn, CurrentVersion: v, TargetBrokerEBSVolumeInfo: [{ KafkaBrokerNodeId: '9', VolumeSizeGB: 500 }] })), 'kafkaBrokerNodeId'],
      ['instance type', () => client.send(new UpdateBrokerTypeCommand({ ClusterArn: arn, CurrentVersion: v, TargetInstanceType: 'big' })), 'targetInstanceType'],
      ['kraft from zookeeper', () => client.send(new UpdateClusterKafkaVersionCommand({ ClusterArn: arn, CurrentVersion: v, TargetKafkaVersion: '3.8.x.kraft' })), 'targetKafkaVersion'],
      ['downgrade', () => client.send(new UpdateClusterKafkaVersionCommand({ ClusterArn: arn, CurrentVersion: v, TargetKafkaVersion: '3.6.0' })), 'targetKafkaVersion'],
      ['missing configuration', () => client.send(new UpdateClusterConfigurationCommand({ ClusterArn: arn, CurrentVersion: v, ConfigurationInfo: { Arn: 'arn:aws:kafka:us-east-1:123456789012:configuration/x/y', Revision: 1 } })), 'configurationInfo'],
      ['monitoring nothing', () => client.send(new UpdateMonitoringCommand({ ClusterArn: arn, CurrentVersion: v })), 'enhancedMonitoring'],
      ['security nothing', () => client.send(new UpdateSecurityCommand({ ClusterArn: arn, CurrentVersion: v })), 'clientAuthentication'],
      ['connectivity nothing', () => client.send(new UpdateConnectivityCommand({ ClusterArn: arn, CurrentVersion: v })), 'connectivityInfo'],
      ['rebalancing status', () => client.send(new UpdateRebalancingCommand({ ClusterArn: arn, CurrentVersion: v, Rebalancing: { Status: 'SOMETIMES' as never } })), 'status'],
      ['reboot two', () => client.send(new RebootBrokerCommand({ ClusterArn: arn, BrokerIds: ['1', '2'] })), 'brokerIds'],
      ['reboot unknown', () => client.send(new RebootBrokerCommand({ ClusterArn: arn, BrokerIds: ['7'] })), 'brokerIds'],
    ]
    for (const [what, call, parameter] of cases) {
      const e = await failure(call())
      assert.equal(e.name, 'BadRequestException', `${what}: ${e.message}`)
      assert.equal(e.invalidParameter, parameter, `${what}: ${e.message}`)
    }
    assert.equal(api.store.listOperations(arn).length, 1, 'only the CREATE operation')
    assert.equal(api.store.getCluster(arn)?.currentVersion, v)
  } finally {
    await api.close()
  }
})

test('Kafka versions: list, compatibility by metadata mode', async () => {
  const api = await startTestApi()
  try {
    const { client } = api
    const versions = (await client.send(new ListKafkaVersionsCommand({}))).KafkaVersions ?? []
    assert.ok(versions.some((v) => v.Version === '3.7.x.kraft' && v.Status === 'ACTIVE'))
    assert.ok(versions.some((v) => v.Version === '4.0.x.kraft'))
    const all = (await client.send(new GetCompatibleKafkaVersionsCommand({}))).CompatibleKafkaVersions ?? []
    assert.equal(all.length, versions.length)
    const arn = await createActive(api, 'zk', { KafkaVersion: '3.6.0' })
    const compat = (await client.send(new GetCompatibleKafkaVersionsCommand({ ClusterArn: arn }))).CompatibleKafkaVersions
    assert.deepEqual(compat, [{ SourceVersion: '3.6.0', TargetVersions: ['3.7.x', '3.8.x', '3.9.x'] }])
    const kraft = await createActive(api, 'kr', { KafkaVersion: '3.8.x.kraft' })
    const kc = (await client.send(new GetCompatibleKafkaVersionsCommand({ ClusterArn: kraft }))).CompatibleKafkaVersions
    assert.deepEqual(kc?.[0]?.TargetVersions, ['3.9.x.kraft', '4.0.x.kraft'])
    const missing = await failure(client.send(new GetCompatibleKafkaVersionsCommand({ ClusterArn: `${arn}x` })))
    assert.equal(missing.name, 'NotFoundException')
  } finally {
    await api.close()
  }
})

test('configurations: revisions, base64 serverProperties, validation, in-use delete refused', async () => {
  const api = await startTestApi()
  try {
    const { client } = api
    const created = await client.send(
      new CreateConfigurationCommand({ Name: 'base', Description: 'first', ServerProperties: props('# tuned\nnum.partitions=6\nlog.retention.hours = 48\n') }),
    )
    assert.match(created.Arn ?? '', /^arn:aws:kafka:us-east-1:123456789012:configuration\/base\/[0-9a-f-]{36}$/)
    assert.equal(created.LatestRevision?.Revision, 1)
    assert.equal(created.State, 'ACTIVE')
    const updated = await client.send(new UpdateConfigurationCommand({ Arn: created.Arn, Description: 'second', ServerProperties: props('num.partitions=12\n') }))
    assert.equal(updated.LatestRevision?.Revision, 2)
    const described = await client.send(new DescribeConfigurationCommand({ Arn: created.Arn }))
    assert.equal(described.LatestRevision?.Description, 'second')
    assert.equal(described.Name, 'base')
    const revisions = await client.send(new ListConfigurationRevisionsCommand({ Arn: created.Arn }))
    assert.deepEqual(revisions.Revisions?.map((r) => r.Revision), [1, 2])
    const r1 = await client.send(new DescribeConfigurationRevisionCommand({ Arn: created.Arn, Revision: 1 }))
    assert.equal(new TextDecoder().decode(r1.ServerProperties), '# tuned\nnum.partitions=6\nlog.retention.hours = 48\n')
    assert.equal(r1.Description, 'first')
    const r9 = await failure(client.send(new DescribeConfigurationRevisionCommand({ Arn: created.Arn, Revision: 9 })))
    assert.equal(r9.name, 'NotFoundException')
    const listed = await client.send(new ListConfigurationsCommand({}))
    assert.deepEqual(listed.Configurations?.map((c) => c.Name), ['base'])

    const bad = await failure(client.send(new CreateConfigurationCommand({ Name: 'x', ServerProperties: props('num.partitions=3\nthis line has no equals\n') })))
    assert.equal(bad.invalidParameter, 'serverProperties')
    assert.match(bad.message, /line 2/)
    const badKey = await failure(client.send(new CreateConfigurationCommand({ Name: 'x', ServerProperties: props('Weird Key!=3\n') })))
    assert.match(badKey.message, /Weird Key!/)
    const empty = await failure(client.send(new CreateConfigurationCommand({ Name: 'x', ServerProperties: props('# nothing\n') })))
    assert.equal(empty.invalidParameter, 'serverProperties')
    const version = await failure(client.send(new CreateConfigurationCommand({ Name: 'x', KafkaVersions: ['0.8'], ServerProperties: props('a.b=1') })))
    assert.equal(version.invalidParameter, 'kafkaVersions')
    const dup = await failure(client.send(new CreateConfigurationCommand({ Name: 'base', ServerProperties: props('a.b=1') })))
    assert.equal(dup.name, 'ConflictException')

    const arn = await createActive(api, 'user', { ConfigurationInfo: { Arn: created.Arn, Revision: 2 } })
    assert.equal(api.store.getCluster(arn)?.spec.configurationInfo?.revision, 2)
    const badRev = await failure(client.send(new CreateClusterCommand(provisioned('user2', { ConfigurationInfo: { Arn: created.Arn, Revision: 3 } }) as never)))
    assert.equal(badRev.invalidParameter, 'configurationInfo')
    const inUse = await failure(client.send(new DeleteConfigurationCommand({ Arn: created.Arn })))
    assert.equal(inUse.name, 'BadRequestException')
    assert.match(inUse.message, /in use by cluster user/)
    await client.send(new DeleteClusterCommand({ ClusterArn: arn }))
    api.complete(arn)
    const deleted = await client.send(new DeleteConfigurationCommand({ Arn: created.Arn }))
    assert.equal(deleted.State, 'DELETING')
    const gone = await failure(client.send(new DescribeConfigurationCommand({ Arn: created.Arn })))
    assert.equal(gone.name, 'NotFoundException')
  } finally {
    await api.close()
  }
})

test('tags on clusters and configurations; SCRAM secrets; unsupported operations', async () => {
  const api = await startTestApi()
  try {
    const { client } = api
    const arn = await createActive(api, 'tagged', { Tags: { a: '1' }, ClientAuthentication: { Sasl: { Scram: { Enabled: true } } } })
    await client.send(new TagResourceCommand({ ResourceArn: arn, Tags: { b: '2', c: '3' } }))
    await client.send(new UntagResourceCommand({ ResourceArn: arn, TagKeys: ['a', 'c'] }))
    assert.deepEqual((await client.send(new ListTagsForResourceCommand({ ResourceArn: arn }))).Tags, { b: '2' })
    assert.deepEqual((await client.send(new DescribeClusterCommand({ ClusterArn: arn }))).ClusterInfo?.Tags, { b: '2' })
    const config = await client.send(new CreateConfigurationCommand({ Name: 'c', ServerProperties: props('a.b=1') }))
    await client.send(new TagResourceCommand({ ResourceArn: config.Arn, Tags: { env: 'dev' } }))
    assert.deepEqual((await client.send(new ListTagsForResourceCommand({ ResourceArn: config.Arn }))).Tags, { env: 'dev' })
    const noTags = await failure(client.send(new TagResourceCommand({ ResourceArn: arn, Tags: {} })))
    assert.equal(noTags.invalidParameter, 'tags')
    const unknown = await failure(client.send(new ListTagsForResourceCommand({ ResourceArn: `${arn}0` })))
    assert.equal(unknown.name, 'NotFoundException')

    const good = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_alice-AbCdEf'
    const badName = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:alice-AbCdEf'
    const assoc = await client.send(new BatchAssociateScramSecretCommand({ ClusterArn: arn, SecretArnList: [good, badName, 'nonsense'] }))
    assert.deepEqual(assoc.UnprocessedScramSecrets?.map((u) => [u.SecretArn, u.ErrorCode]), [
      [badName, 'InvalidSecretName'],
      ['nonsense', 'InvalidSecretArn'],
    ])
    assert.deepEqual((await client.send(new ListScramSecretsCommand({ ClusterArn: arn }))).SecretArnList, [good])
    const dis = await client.send(new BatchDisassociateScramSecretCommand({ ClusterArn: arn, SecretArnList: [good, badName] }))
    assert.deepEqual(dis.UnprocessedScramSecrets?.map((u) => u.SecretArn), [badName])
    assert.deepEqual((await client.send(new ListScramSecretsCommand({ ClusterArn: arn }))).SecretArnList, [])
    const plain = await createActive(api, 'plain')
    const noScram = await failure(client.send(new BatchAssociateScramSecretCommand({ ClusterArn: plain, SecretArnList: [good] })))
    assert.equal(noScram.name, 'BadRequestException')

    const replicators = await failure(client.send(new ListReplicatorsCommand({})))
    assert.equal(replicators.name, 'BadRequestException')
    assert.match(replicators.message, /ListReplicators is not supported by Fjord/)
    // Without brokers to reach (this server has none), topics answer a clean 400 naming the cluster.
    const topics = await failure(client.send(new ListTopicsCommand({ ClusterArn: arn })))
    assert.equal(topics.name, 'BadRequestException')
    assert.equal(topics.invalidParameter, 'clusterArn')
  } finally {
    await api.close()
  }
})
