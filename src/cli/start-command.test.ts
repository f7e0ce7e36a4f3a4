// `fjord start` as a subprocess on a temporary data dir and a free API port: the control plane
// and a default cluster come up; the bootstrap servers it prints serve KafkaJS, the endpoint it
// prints answers the AWS CLI v2 (`/usr/bin/aws kafka list-clusters --endpoint-url`, Debian's
// awscli) and `fjord cluster`; SIGINT stops the control plane and every process of the cluster;
// a second start on the same data dir adopts the cluster on the same ports, and SIGTERM stops it.
// --port-base: the test picks a free base (never 9092, which other tests or a developer's Kafka may
// hold) and holds base + 1: broker 1 gets the base, broker 2 a free port, and start says so.

import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { createServer, type Server } from 'node:net'
import { isAlive } from '../cluster/pids.js'
import { allocatePorts, isPortFree } from '../cluster/ports.js'

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url))
const AWS_CLI = '/usr/bin/aws'
const dirs: string[] = []
const spawned: number[] = []

after(() => {
  // A failed run must not leave brokers behind.
  for (const pid of spawned) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  if (process.env.KEEP_TEST_DATA !== '1') for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

interface Run {
  endpoint: string
  bootstrap: string
  stdout: string
  stop(signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string; stderr: string }>
}

function start(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [MAIN, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`fjord start was not ready in time:\n${stdout}\n${stderr}`))
    }, 90_000)
    void exited.then((code) => reject(new Error(`fjord start exited (${code}):\n${stdout}\n${stderr}`)))
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      const endpoint = /^Fjord control plane ready at (http:\S+)/m.exec(stdout)?.[1]
      const bootstrap = /^Fjord cluster \S+ ready: bootstrap (\S+)/m.exec(stdout)?.[1]
      if (!endpoint || !bootstrap || !/^Ctrl-C /m.test(stdout)) return
      clearTimeout(timer)
      resolve({
        endpoint,
        bootstrap,
        stdout,
        stop: async (signal) => {
          child.kill(signal)
          const code = await exited
          return { code, stdout, stderr }
        },
      })
    })
  })
}

/** The pids of every broker and controller the data dir's cluster records. */
function clusterPids(dataDir: string): number[] {
  const root = path.join(dataDir, 'clusters')
  const pids: number[] = []
  for (const d of existsSync(root) ? readdirSync(root) : []) {
    const file = path.join(root, d, 'kafka', 'cluster.json')
    if (!existsSync(file)) continue
    const f = JSON.parse(readFileSync(file, 'utf8')) as { brokers: { pid: number | null }[]; controllers: { pid: number | null }[] }
    for (const m of [...f.brokers, ...f.controllers]) if (m.pid) pids.push(m.pid)
  }
  spawned.push(...pids)
  return pids
}

function run(file: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0, stdout, stderr })
    })
  })
}

/** A free port whose successor is free too, and a server holding the successor. */
async function baseWithSuccessorHeld(): Promise<{ base: number; held: Server }> {
  for (let i = 0; i < 50; i++) {
    const [base] = await allocatePorts('127.0.0.1', 1)
    if (base! >= 65535 || !(await isPortFree('127.0.0.1', base! + 1))) continue
    const held = createServer()
    const ok = await new Promise<boolean>((resolve) => {
      held.once('error', () => resolve(false))
      held.listen({ host: '127.0.0.1', port: base! + 1, exclusive: true }, () => resolve(true))
    })
    if (ok) return { base: base!, held }
  }
  throw new Error('no free pair of ports')
}

describe('fjord start', { timeout: 300_000 }, () => {
  it('runs the control plane and a cluster until SIGINT; a second start adopts the cluster on the same ports', async () => {
    assert.ok(existsSync(AWS_CLI), `${AWS_CLI} (the AWS CLI v2) is missing: apt-get install -y awscli (scripts/install-test-deps.sh does)`)
    const dataDir = mkdtempSync(path.join(tmpdir(), 'fjord-start-test-'))
    dirs.push(dataDir)
    const { base, held } = await baseWithSuccessorHeld()
    const args = ['--data-dir', dataDir, '--listen', '127.0.0.1:0', '--brokers', '2', '--zones', '2', '--volume-size', '10', '--port-base', String(base)]

    let first: Run
    try {
      first = await start(args)
    } finally {
      held.close()
    }
    assert.equal(first.bootstrap.split(',').length, 2)
    assert.equal(first.bootstrap.split(',')[0], `127.0.0.1:${base}`, 'broker 1 on the port base')
    assert.notEqual(first.bootstrap.split(',')[1], `127.0.0.1:${base + 1}`, 'broker 2 not on the held port')
    assert.match(first.stdout, /^ {2}MSK API endpoint: +http:\/\/127\.0\.0\.1:\d+/m)
    assert.match(first.stdout, /aws kafka list-clusters --endpoint-url http:/)
    const pids = clusterPids(dataDir)
    assert.equal(pids.length, 3, 'a controller and two brokers')
    assert.ok(pids.every(isAlive))

    // The bootstrap servers serve a Kafka client.
    const kafka = new Kafka({ clientId: 'start-test', brokers: first.bootstrap.split(','), logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    try {
      assert.equal((await admin.describeCluster()).brokers.length, 2)
      await admin.createTopics({ topics: [{ topic: 'start-test', numPartitions: 2, replicationFactor: 2 }], waitForLeaders: true })
    } finally {
      await admin.disconnect()
    }

    // The endpoint answers the AWS CLI as MSK, and fjord cluster.
    const aws = await run(AWS_CLI, ['kafka', 'list-clusters', '--endpoint-url', first.endpoint, '--region', 'us-east-1', '--output', 'json'], {
      AWS_ACCESS_KEY_ID: 'AKIDFJORDSTARTTEST',
      AWS_SECRET_ACCESS_KEY: 'fjord-start-test',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
    })
    assert.equal(aws.code, 0, aws.stderr)
    const listed = JSON.parse(aws.stdout) as { ClusterInfoList: { ClusterName: string; State: string; NumberOfBrokerNodes: number }[] }
    assert.deepEqual(listed.ClusterInfoList.map((c) => [c.ClusterName, c.State, c.NumberOfBrokerNodes]), [['default', 'ACTIVE', 2]])
    const bootstrap = await run(process.execPath, [MAIN, 'cluster', 'bootstrap', 'default', '--endpoint', first.endpoint])
    assert.equal(bootstrap.stdout.trim(), first.bootstrap)

    const r1 = await first.stop('SIGINT')
    assert.equal(r1.code, 0, r1.stderr)
    assert.match(r1.stdout, /Fjord stopped \(control plane and clusters\)/)
    assert.match(r1.stderr, new RegExp(`port ${base + 1} is taken: broker 2 listens on \\d+ instead`))
    assert.ok(!pids.some(isAlive), 'no broker or controller left behind')

    const second = await start(['--data-dir', dataDir, '--listen', '127.0.0.1:0', '--port-base', '0'])
    assert.equal(second.bootstrap, first.bootstrap, 'the adopted cluster keeps its ports')
    const consumerAdmin = new Kafka({ clientId: 'start-test-2', brokers: second.bootstrap.split(','), logLevel: logLevel.NOTHING }).admin()
    await consumerAdmin.connect()
    try {
      assert.ok((await consumerAdmin.listTopics()).includes('start-test'), 'the topic survived the restart')
    } finally {
      await consumerAdmin.disconnect()
    }
    const pids2 = clusterPids(dataDir)
    const r2 = await second.stop('SIGTERM')
    assert.equal(r2.code, 0, r2.stderr)
    assert.match(r2.stderr, /Adopting cluster default/)
    assert.ok(!pids2.some(isAlive))
  })

  it('usage errors exit 2', async () => {
    const r = await run(process.execPath, [MAIN, 'start', '--metadata', 'bogus'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--metadata must be kraft or zookeeper/)
    assert.equal((await run(process.execPath, [MAIN, 'start', '--listen', 'nowhere:port'])).code, 2)
  })
})
