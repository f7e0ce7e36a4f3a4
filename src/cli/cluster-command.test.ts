// `fjord cluster` as scripts see it (a subprocess: its output, JSON and exit codes) against a real
// control plane (ControlPlane.open in this process, on a temporary data dir and a free port):
// a cluster's life (create --wait, list, describe, nodes, bootstrap, scale --wait, operations,
// delete --wait), configurations, and the exit codes: 1 for an API error, 2 for usage, 3 when
// the endpoint cannot be reached.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { ControlPlane } from '../controlplane/control-plane.js'

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url))

interface Run { code: number; stdout: string; stderr: string }

/** `fjord cluster ...` (asynchronously: the control plane answering it lives in this process). */
function fjord(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, 'cluster', ...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

describe('fjord cluster against a control plane', { timeout: 300_000 }, () => {
  let dataDir = ''
  let cp: ControlPlane | undefined
  let endpoint: string[] = []

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'fjord-cluster-cli-'))
    cp = await ControlPlane.open({ dataDir, host: '127.0.0.1', port: 0, region: 'us-east-1' })
    endpoint = ['--endpoint', cp.url]
  })

  after(async () => {
    await cp?.close({ stopClusters: true })
    if (process.env.KEEP_TEST_DATA !== '1') rmSync(dataDir, { recursive: true, force: true })
  })

  it('exit codes: 2 for usage, 3 for an unreachable endpoint (with its URL), 1 for an API error', async () => {
    const usage = await fjord(['scale', 'x'])
    assert.equal(usage.code, 2, usage.stderr)
    assert.match(usage.stderr, /needs --brokers N/)
    assert.equal((await fjord(['create', 'x', '--brokers', 'many'])).code, 2)
    assert.equal((await fjord(['frobnicate'])).code, 2)
    assert.equal((await fjord(['list', '--output', 'yaml'])).code, 2)

    const closed = `http://127.0.0.1:${await freePort()}`
    const unreachable = await fjord(['list', '--endpoint', closed])
    assert.equal(unreachable.code, 3, unreachable.stderr)
    assert.ok(unreachable.stderr.includes(`cannot reach the control plane at ${closed}`), unreachable.stderr)
    // FJORD_ENDPOINT is the default endpoint.
    assert.equal((await fjord(['list'], { FJORD_ENDPOINT: closed })).code, 3)
    // Something that is not the MSK API answering (a web server, a proxy) is no endpoint either.
    const other = createHttpServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<html>not here</html>'))
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    try {
      const notMsk = await fjord(['list', '--endpoint', `http://127.0.0.1:${(other.address() as { port: number }).port}`])
      assert.equal(notMsk.code, 3, notMsk.stderr)
      assert.match(notMsk.stderr, /answered HTTP 404 but not as the MSK API/)
    } finally {
      other.close()
    }

    const missing = await fjord(['describe', 'no-such-cluster', ...endpoint])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^fjord: NotFoundException: no cluster named 'no-such-cluster'/m)
    const missingArn = await fjord(['describe', 'arn:aws:kafka:us-east-1:000000000000:cluster/gone/5e0c6f1e-0000-4000-8000-000000000000', ...endpoint])
    assert.equal(missingArn.code, 1)
    assert.match(missingArn.stderr, /^fjord: NotFoundException: /m)
    // The API's validation: 4 brokers do not spread evenly over 3 zones.
    const bad = await fjord(['create', 'uneven', '--brokers', '4', '--zones', '3', ...endpoint])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /^fjord: BadRequestException: .*multiple of the number of availability zones/m)
  })

  it('a cluster: create --wait, list, describe, nodes, bootstrap, scale --wait, operations, delete --wait', async () => {
    const created = await fjord(['create', 'cli-test', '--brokers', '2', '--zones', '2', '--volume-size', '10', '--tag', 'team=cli', '--wait', ...endpoint])
    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stdout, /^Cluster cli-test is ACTIVE after \d+/m)
    assert.match(created.stderr, /done {2}WAIT_FOR_BROKERS/, 'the operation steps are shown as they complete')
    const bootstrapLine = /^Bootstrap servers: (\S+)$/m.exec(created.stdout)?.[1]
    assert.ok(bootstrapLine && bootstrapLine.split(',').length === 2, created.stdout)

    const list = await fjord(['list', ...endpoint])
    assert.equal(list.code, 0)
    assert.match(list.stdout, /^NAME\s+STATE\s+TYPE\s+BROKERS/m)
    assert.match(list.stdout, /^cli-test\s+ACTIVE\s+PROVISIONED\s+2\s+2\s+3\.7\.x\.kraft\s/m)

    const json = JSON.parse((await fjord(['list', '--output', 'json', ...endpoint])).stdout) as { ClusterInfoList: { ClusterName: string; ClusterArn: string; State: string; Tags: Record<string, string> }[] }
    const info = json.ClusterInfoList.find((c) => c.ClusterName === 'cli-test')!
    assert.equal(info.State, 'ACTIVE')
    assert.deepEqual(info.Tags, { team: 'cli' })
    const arn = info.ClusterArn

    const described = await fjord(['describe', 'cli-test', ...endpoint])
    assert.equal(described.code, 0)
    assert.match(described.stdout, new RegExp(`^ARN:\\s+${arn.replace(/[/.]/g, '\\$&')}$`, 'm'))
    assert.match(described.stdout, /^Volume size:\s+10 GiB$/m)
    assert.match(described.stdout, new RegExp(`^Bootstrap servers:\\s+${bootstrapLine}$`, 'm'))
    const byArn = JSON.parse((await fjord(['describe', arn, '-o', 'json', ...endpoint])).stdout) as { ClusterInfo: { ClusterName: string; Provisioned: { NumberOfBrokerNodes: number } } }
    assert.equal(byArn.ClusterInfo.ClusterName, 'cli-test')
    assert.equal(byArn.ClusterInfo.Provisioned.NumberOfBrokerNodes, 2)

    const nodes = await fjord(['nodes', 'cli-test', ...endpoint])
    assert.match(nodes.stdout, /^1\s+subnet-a\s+127\.0\.0\.1\s+10\.0 GiB\s/m)
    assert.match(nodes.stdout, /^2\s+subnet-b\s+127\.0\.0\.1\s+10\.0 GiB\s/m)

    const bootstrap = await fjord(['bootstrap', 'cli-test', ...endpoint])
    assert.equal(bootstrap.stdout.trim(), bootstrapLine)
    // The bootstrap servers are a cluster's: KafkaJS sees both brokers.
    const admin = new Kafka({ clientId: 'cluster-cli-test', brokers: bootstrapLine.split(','), logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
    try {
      assert.equal((await admin.describeCluster()).brokers.length, 2)
    } finally {
      await admin.disconnect()
    }

    assert.match((await fjord(['wait', 'cli-test', ...endpoint])).stdout, /^Cluster cli-test is ACTIVE\.$/m)
    const grown = await fjord(['storage', 'cli-test', '--volume-size', '20', '--wait', ...endpoint])
    assert.equal(grown.code, 0, grown.stderr)
    assert.match((await fjord(['describe', 'cli-test', ...endpoint])).stdout, /^Volume size:\s+20 GiB$/m)
    const autoScaling = await fjord(['storage', 'cli-test', '--auto-scaling-target', '70', '--max-volume-size', '40', '-o', 'json', ...endpoint])
    assert.equal(autoScaling.code, 0, autoScaling.stderr)
    assert.deepEqual((JSON.parse(autoScaling.stdout) as { storageAutoScaling: unknown }).storageAutoScaling, { targetUtilization: 70, maxVolumeSizeGiB: 40, cooldownSeconds: 21600 })

    // A configuration applied: the brokers restart one at a time with it.
    const file = path.join(dataDir, 'rolling.properties')
    writeFileSync(file, 'log.retention.hours=72\n')
    assert.equal((await fjord(['configuration', 'create', 'cli-rolling', '--server-properties', file, ...endpoint])).code, 0)
    const configured = await fjord(['update-configuration', 'cli-test', '--configuration', 'cli-rolling', '--wait', ...endpoint])
    assert.equal(configured.code, 0, configured.stderr)
    assert.match(configured.stdout, /^Configure cli-test with arn:\S+ revision 1: done in .*ACTIVE/m)
    assert.match((await fjord(['describe', 'cli-test', ...endpoint])).stdout, /^Configuration:\s+arn:\S+configuration\/cli-rolling\/\S+ \(revision 1\)$/m)

    const scaled = await fjord(['scale', 'cli-test', '--brokers', '4', '--wait', ...endpoint])
    assert.equal(scaled.code, 0, scaled.stderr)
    assert.match(scaled.stdout, /^Scale cli-test to 4 brokers: done in \d+.*ACTIVE/m)
    assert.equal((await fjord(['bootstrap', 'cli-test', ...endpoint])).stdout.trim().split(',').length, 4)

    const ops = await fjord(['operations', 'cli-test', ...endpoint])
    assert.match(ops.stdout, /^UPDATE_BROKER_COUNT\s+UPDATE_COMPLETE\s/m)
    assert.match(ops.stdout, /^CREATE\s+UPDATE_COMPLETE\s/m)
    const opArn = /^UPDATE_BROKER_COUNT\s.*\s(arn:\S+)$/m.exec(ops.stdout)![1]!
    const op = await fjord(['operation', opArn, ...endpoint])
    assert.match(op.stdout, /^Type:\s+UPDATE_BROKER_COUNT$/m)
    assert.match(op.stdout, /^STEP\s+STATUS$/m)

    // An update refused by the API (a stale or conflicting request) is exit 1, named.
    const reboot = await fjord(['reboot', 'cli-test', '--broker', '99', ...endpoint])
    assert.equal(reboot.code, 1, reboot.stdout)
    assert.match(reboot.stderr, /^fjord: \w+Exception: /m)

    const deleted = await fjord(['delete', 'cli-test', '--wait', ...endpoint])
    assert.equal(deleted.code, 0, deleted.stderr)
    assert.match(deleted.stdout, /the cluster is gone/)
    assert.equal((await fjord(['describe', arn, ...endpoint])).code, 1)
  })

  it('configurations: create from a server.properties file, list, describe a revision, update, delete', async () => {
    const file = path.join(dataDir, 'server.properties')
    writeFileSync(file, 'auto.create.topics.enable=true\nlog.retention.hours=24\n')
    const created = await fjord(['configuration', 'create', 'cli-config', '--server-properties', file, '--kafka-versions', '3.7.x.kraft', ...endpoint])
    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stdout, /^Created configuration cli-config revision 1: arn:/m)
    assert.match((await fjord(['configuration', 'list', ...endpoint])).stdout, /^cli-config\s+ACTIVE\s+1\s+3\.7\.x\.kraft\s/m)

    writeFileSync(file, 'log.retention.hours=48\n')
    const updated = await fjord(['configuration', 'update', 'cli-config', '--server-properties', file, '--description', 'longer retention', ...endpoint])
    assert.match(updated.stdout, /is at revision 2/)
    const latest = await fjord(['configuration', 'describe', 'cli-config', ...endpoint])
    assert.match(latest.stdout, /^Revision 2 \(longer retention\)/m)
    assert.match(latest.stdout, /^log\.retention\.hours=48$/m)
    const first = JSON.parse((await fjord(['configuration', 'describe', 'cli-config', '--revision', '1', '-o', 'json', ...endpoint])).stdout) as { Revision: { ServerProperties: string } }
    assert.equal(Buffer.from(first.Revision.ServerProperties, 'base64').toString(), 'auto.create.topics.enable=true\nlog.retention.hours=24\n')

    assert.equal((await fjord(['configuration', 'create', 'no-file', '--server-properties', path.join(dataDir, 'missing'), ...endpoint])).code, 2)
    assert.equal((await fjord(['configuration', 'delete', 'cli-config', ...endpoint])).code, 0)
    assert.equal((await fjord(['configuration', 'describe', 'cli-config', ...endpoint])).code, 1)
  })
})
