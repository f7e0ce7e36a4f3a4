// Drives the MSK API with the AWS CLI v2 (/usr/bin/aws, Debian's awscli; the `aws` first on PATH
// may be an old v1). A missing CLI fails the test: it is a test dependency, never a reason to skip.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { startTestApi } from './testing.js'

const AWS = '/usr/bin/aws'
const run = promisify(execFile)

async function aws(url: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    AWS_ACCESS_KEY_ID: 'AKIDCLI',
    AWS_SECRET_ACCESS_KEY: 'x',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
    AWS_EC2_METADATA_DISABLED: 'true',
  }
  try {
    const { stdout, stderr } = await run(AWS, ['kafka', ...args, '--endpoint-url', url, '--region', 'us-east-1', '--output', 'json'], { env, timeout: 60_000 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) }
  }
}

test('AWS CLI v2: create, describe, list, update-broker-count, delete and error output', async () => {
  assert.ok(existsSync(AWS), `${AWS} (AWS CLI v2, Debian package awscli) is required by this test${process.env.CI === 'true' ? ' in CI' : ''}`)
  const api = await startTestApi()
  const url = api.server.url
  try {
    const created = await aws(url, [
      'create-cluster',
      '--cluster-name', 'cli-cluster',
      '--kafka-version', '3.7.x.kraft',
      '--number-of-broker-nodes', '3',
      '--broker-node-group-info', JSON.stringify({ ClientSubnets: ['s-1', 's-2', 's-3'], InstanceType: 'kafka.m5.large' }),
      '--tags', 'team=cli',
    ])
    assert.equal(created.code, 0, created.stderr)
    const { ClusterArn: arn, State } = JSON.parse(created.stdout) as { ClusterArn: string; State: string }
    assert.equal(State, 'CREATING')
    assert.deepEqual(api.wakes, [arn])
    api.complete(arn)

    const described = await aws(url, ['describe-cluster', '--cluster-arn', arn])
    assert.equal(described.code, 0, described.stderr)
    const info = (JSON.parse(described.stdout) as { ClusterInfo: Record<string, unknown> }).ClusterInfo
    assert.equal(info.State, 'ACTIVE')
    assert.equal(info.NumberOfBrokerNodes, 3)
    assert.deepEqual(info.Tags, { team: 'cli' })

    const listed = await aws(url, ['list-clusters'])
    assert.equal(listed.code, 0, listed.stderr)
    assert.deepEqual((JSON.parse(listed.stdout) as { ClusterInfoList: Array<{ ClusterName: string }> }).ClusterInfoList.map((c) => c.ClusterName), ['cli-cluster'])

    const updated = await aws(url, ['update-broker-count', '--cluster-arn', arn, '--current-version', info.CurrentVersion as string, '--target-number-of-broker-nodes', '6'])
    assert.equal(updated.code, 0, updated.stderr)
    const opArn = (JSON.parse(updated.stdout) as { ClusterOperationArn: string }).ClusterOperationArn
    assert.equal(api.store.getOperation(opArn)?.type, 'UPDATE_BROKER_COUNT')
    assert.equal(api.store.getCluster(arn)?.state, 'UPDATING')

    const stale = await aws(url, ['update-broker-count', '--cluster-arn', arn, '--current-version', info.CurrentVersion as string, '--target-number-of-broker-nodes', '9'])
    assert.notEqual(stale.code, 0)
    assert.match(stale.stderr, /An error occurred \(ConflictException\) when calling the UpdateBrokerCount operation: .*UPDATING/)
    api.complete(arn)

    const deleted = await aws(url, ['delete-cluster', '--cluster-arn', arn])
    assert.equal(deleted.code, 0, deleted.stderr)
    assert.equal((JSON.parse(deleted.stdout) as { State: string }).State, 'DELETING')
    api.complete(arn)

    const missing = await aws(url, ['describe-cluster', '--cluster-arn', arn])
    assert.notEqual(missing.code, 0)
    assert.match(missing.stderr, /An error occurred \(NotFoundException\) when calling the DescribeCluster operation: Cluster .* does not exist/)
    const bad = await aws(url, [
      'create-cluster',
      '--cluster-name', 'bad',
      '--kafka-version', '3.7.x.kraft',
      '--number-of-broker-nodes', '4',
      '--broker-node-group-info', JSON.stringify({ ClientSubnets: ['s-1', 's-2', 's-3'], InstanceType: 'kafka.m5.large' }),
    ])
    assert.match(bad.stderr, /An error occurred \(BadRequestException\) when calling the CreateCluster operation: numberOfBrokerNodes must be a multiple/)
  } finally {
    await api.close()
  }
})
