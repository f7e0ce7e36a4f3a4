import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { openStore } from './store.js'
import type { ClusterRecord, ConfigurationRecord, OperationRecord } from './model.js'

function cluster(name: string, creationTime: string): ClusterRecord {
  return {
    arn: `arn:aws:kafka:us-east-1:123456789012:cluster/${name}/u-${name}`,
    name,
    uuid: `u-${name}`,
    type: 'PROVISIONED',
    region: 'us-east-1',
    account: '123456789012',
    creationTime,
    state: 'CREATING',
    stateInfo: null,
    currentVersion: 'K1',
    activeOperationArn: null,
    tags: { team: 'a' },
    spec: {
      numberOfBrokerNodes: 3,
      brokerNodeGroupInfo: { clientSubnets: ['s1', 's2', 's3'], instanceType: 'kafka.m5.large' },
      kafkaVersion: '3.7.x',
      enhancedMonitoring: 'DEFAULT',
      storageMode: 'LOCAL',
    },
    runtime: null,
  }
}

function operation(clusterArn: string, n: number, creationTime: string): OperationRecord {
  return {
    arn: `${clusterArn}/op-${n}`,
    clusterArn,
    clusterType: 'PROVISIONED',
    type: 'CREATE',
    state: 'PENDING',
    creationTime,
    endTime: null,
    errorInfo: null,
    sourceClusterInfo: null,
    targetClusterInfo: { numberOfBrokerNodes: 3 },
    steps: [],
    params: {},
    clientRequestId: null,
  }
}

test('store keeps clusters, operations, configurations, tags and SCRAM secrets across a reopen', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fjord-store-'))
  try {
    const file = join(dir, 'cp.db')
    let store = openStore(file)
    const a = cluster('a', '2024-01-01T00:00:00.000Z')
    const b = cluster('b', '2024-01-01T00:00:00.000Z')
    store.insertCluster(a)
    store.insertCluster(b)
    store.insertOperation(operation(a.arn, 1, '2024-01-01T00:00:01.000Z'))
    store.insertOperation(operation(a.arn, 2, '2024-01-01T00:00:02.000Z'))
    store.updateOperation(`${a.arn}/op-1`, (op) => {
      op.state = 'UPDATE_COMPLETE'
    })
    const updated = store.updateCluster(a.arn, (c) => {
      c.state = 'ACTIVE'
      c.currentVersion = 'K2'
    })
    assert.equal(updated.state, 'ACTIVE')
    const config: ConfigurationRecord = {
      arn: 'arn:aws:kafka:us-east-1:123456789012:configuration/c/u1',
      name: 'c',
      description: '',
      kafkaVersions: [],
      creationTime: '2024-01-01T00:00:00.000Z',
      state: 'ACTIVE',
      revisions: [{ revision: 1, description: '', creationTime: '2024-01-01T00:00:00.000Z', serverProperties: 'a=1\n' }],
    }
    store.insertConfiguration(config)
    store.setTags(config.arn, { env: 'test' })
    store.addScramSecrets(a.arn, ['s2', 's1', 's2'])
    store.close()

    store = openStore(file)
    assert.deepEqual(
      store.listClusters().map((c) => c.name),
      ['a', 'b'],
    )
    assert.equal(store.getCluster(a.arn)?.currentVersion, 'K2')
    assert.deepEqual(store.getCluster(a.arn)?.tags, { team: 'a' })
    assert.deepEqual(
      store.listOperations(a.arn).map((op) => op.arn),
      [`${a.arn}/op-2`, `${a.arn}/op-1`],
    )
    assert.deepEqual(
      store.unfinishedOperations().map((op) => op.arn),
      [`${a.arn}/op-2`],
    )
    assert.equal(store.getConfiguration(config.arn)?.revisions[0]?.serverProperties, 'a=1\n')
    assert.deepEqual(store.getTags(config.arn), { env: 'test' })
    assert.deepEqual(store.getTags('arn:none'), {})
    assert.deepEqual(store.listScramSecrets(a.arn), ['s2', 's1'])
    store.removeScramSecrets(a.arn, ['s2'])
    assert.deepEqual(store.listScramSecrets(a.arn), ['s1'])

    store.deleteCluster(b.arn)
    assert.equal(store.getCluster(b.arn), undefined)
    store.deleteConfiguration(config.arn)
    assert.deepEqual(store.getTags(config.arn), {})
    store.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a transaction that throws leaves nothing behind; updating a missing record throws', () => {
  const store = openStore(':memory:')
  try {
    const a = cluster('a', '2024-01-01T00:00:00.000Z')
    store.insertCluster(a)
    assert.throws(() =>
      store.transaction(() => {
        store.insertOperation(operation(a.arn, 1, '2024-01-01T00:00:01.000Z'))
        store.updateCluster(a.arn, (c) => {
          c.state = 'UPDATING'
        })
        throw new Error('abort')
      }),
    )
    assert.equal(store.getCluster(a.arn)?.state, 'CREATING')
    assert.deepEqual(store.listOperations(a.arn), [])
    assert.throws(() => store.updateCluster('arn:missing', () => {}), /not found/)
    assert.throws(() => store.updateCluster(a.arn, () => { throw new Error('mutate failed') }), /mutate failed/)
    assert.equal(store.getCluster(a.arn)?.state, 'CREATING')
    assert.throws(() => store.insertCluster(a), /UNIQUE/)
  } finally {
    store.close()
  }
})

test('a version-1 file (before cluster policies) opens with its data, gains cluster_policies and is marked version 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fjord-store-'))
  const file = join(dir, 'controlplane.db')
  try {
    const c = cluster('old', '2024-01-01T00:00:00.000Z')
    const first = openStore(file)
    first.insertCluster(c)
    first.close()
    // Make it what Fjord wrote before schema 2: no cluster_policies table, version 1.
    const raw = new Database(file)
    raw.exec('DROP TABLE cluster_policies; UPDATE schema_version SET version = 1')
    raw.close()

    const store = openStore(file)
    assert.equal(store.getCluster(c.arn)?.name, 'old')
    assert.equal(store.getClusterPolicy(c.arn), undefined)
    store.putClusterPolicy({ clusterArn: c.arn, policy: '{}', currentVersion: 'V1', updatedTime: '2024-01-02T00:00:00.000Z' })
    assert.equal(store.getClusterPolicy(c.arn)?.currentVersion, 'V1')
    store.close()
    const check = new Database(file)
    assert.equal((check.prepare('SELECT version FROM schema_version').get() as { version: number }).version, 2)
    check.close()

    const again = openStore(file)
    assert.equal(again.getClusterPolicy(c.arn)?.policy, '{}')
    assert.equal(again.deleteClusterPolicy(c.arn), true)
    assert.equal(again.deleteClusterPolicy(c.arn), false)
    again.putClusterPolicy({ clusterArn: c.arn, policy: '{}', currentVersion: 'V2', updatedTime: '2024-01-03T00:00:00.000Z' })
    again.deleteCluster(c.arn)
    assert.equal(again.getClusterPolicy(c.arn), undefined, 'a deleted cluster takes its policy with it')
    again.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
