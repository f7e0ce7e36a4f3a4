// The fjord command's Kafka client: version negotiation (against a fake broker that only speaks
// old versions), timeouts and protocol faults, the admin operations at old API versions giving
// the same answers as at the newest, and the small parsers the commands use.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Apis } from '../protocol/apis.js'
import { ErrorCode, KafkaError } from '../protocol/errors.js'
import { decodeRequestHeader } from '../protocol/headers.js'
import { Reader, Writer } from '../protocol/primitives.js'
import { createTopic, deleteGroup, describeGroup, describeTopic, executeOffsetReset, listGroups, listTopics, planOffsetReset } from './admin.js'
import { table } from './common.js'
import { decodeConsumerAssignment } from './consumer-protocol.js'
import { parseDateTime } from './group-command.js'
import { ClientError, KafkaClient, KafkaConnection, parseAddress } from './kafka-client.js'

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url))

/** A fake broker: `answer` gets each request's header and returns the response frame body (after the header), or null for silence. */
async function fakeBroker(answer: (h: { apiKey: number; apiVersion: number; correlationId: number }, socket: Socket) => Buffer | null): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    let buf = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const frame = buf.subarray(4, 4 + buf.readInt32BE(0))
        buf = buf.subarray(4 + frame.length)
        const h = decodeRequestHeader(new Reader(frame))
        const body = answer(h, socket)
        if (body === null) continue
        const head = Buffer.alloc(8)
        head.writeInt32BE(4 + body.length, 0)
        head.writeInt32BE(h.correlationId, 4) // response header v0: ApiVersions always uses it
        socket.write(Buffer.concat([head, body]))
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as { port: number }).port }
}

/** Encodes an ApiVersions response body at `version`. */
function apiVersionsBody(version: number, errorCode: number, keys: [number, number, number][]): Buffer {
  return Apis.ApiVersions.response.encode(version, { errorCode, apiKeys: keys.map(([apiKey, minVersion, maxVersion]) => ({ apiKey, minVersion, maxVersion })), throttleTimeMs: 0 }).toBuffer()
}

describe('KafkaConnection', () => {
  const servers: Server[] = []
  after(() => { for (const s of servers) s.close() })

  it('negotiates down when the broker answers UNSUPPORTED_VERSION, then uses the highest common versions', async () => {
    const seen: number[] = []
    const keys: [number, number, number][] = [[18, 0, 2], [3, 0, 5], [2, 3, 4]]
    const { server, port } = await fakeBroker((h) => {
      assert.equal(h.apiKey, 18)
      seen.push(h.apiVersion)
      // Like Kafka: an unknown ApiVersions version is answered in a v0 body.
      return h.apiVersion > 2 ? apiVersionsBody(0, ErrorCode.UNSUPPORTED_VERSION.code, keys) : apiVersionsBody(h.apiVersion, 0, keys)
    })
    servers.push(server)
    const conn = await KafkaConnection.open({ host: '127.0.0.1', port })
    try {
      assert.deepEqual(seen, [Apis.ApiVersions.request.versions.max, 2])
      assert.equal(conn.version(Apis.Metadata), 5)
      assert.equal(conn.version(Apis.ListOffsets), 4)
      assert.throws(() => conn.version(Apis.OffsetFetch), (err: unknown) => err instanceof KafkaError && err.code === ErrorCode.UNSUPPORTED_VERSION.code && /OffsetFetch/.test(err.message))
    } finally {
      conn.close()
    }
    const capped = await KafkaConnection.open({ host: '127.0.0.1', port }, { maxVersions: new Map([[3, 1]]) })
    assert.equal(capped.version(Apis.Metadata), 1)
    capped.close()
  })

  it('times out a request that gets no answer, and says which', async () => {
    const { server, port } = await fakeBroker((h) => (h.apiKey === 18 ? apiVersionsBody(h.apiVersion, 0, [[18, 0, 4], [3, 0, 12]]) : null))
    servers.push(server)
    const conn = await KafkaConnection.open({ host: '127.0.0.1', port }, { requestTimeoutMs: 300 })
    const started = Date.now()
    await assert.rejects(conn.send(Apis.Metadata, () => ({ topics: null })), (err: unknown) =>
      err instanceof ClientError && err.message === `Metadata request to 127.0.0.1:${port} timed out after 300 ms`)
    assert.ok(Date.now() - started < 2_000)
    await assert.rejects(conn.send(Apis.Metadata, () => ({ topics: null })), ClientError, 'the connection is not reused after a lost answer')
  })

  it('fails on a response it did not ask for, and on a closed connection', async () => {
    const { server, port } = await fakeBroker((h, socket) => {
      if (h.apiKey === 18) return apiVersionsBody(h.apiVersion, 0, [[18, 0, 4], [3, 0, 12], [2, 0, 10]])
      socket.end() // a clean close, so no ECONNRESET races it
      return null
    })
    servers.push(server)
    const conn = await KafkaConnection.open({ host: '127.0.0.1', port }, { requestTimeoutMs: 2_000 })
    await assert.rejects(conn.send(Apis.ListOffsets, () => ({ replicaId: -1, topics: [] })), /closed by the broker/)

    const { server: s2, port: p2 } = await fakeBroker((h, socket) => {
      if (h.apiKey === 18) return apiVersionsBody(h.apiVersion, 0, [[18, 0, 4], [3, 0, 12]])
      const bogus = Buffer.alloc(8)
      bogus.writeInt32BE(4, 0)
      bogus.writeInt32BE(h.correlationId + 100, 4)
      socket.write(bogus)
      return null
    })
    servers.push(s2)
    const c2 = await KafkaConnection.open({ host: '127.0.0.1', port: p2 }, { requestTimeoutMs: 2_000 })
    await assert.rejects(c2.send(Apis.Metadata, () => ({ topics: null })), /unknown correlation id/)
  })

  it('says why it cannot connect', async () => {
    const { server, port } = await fakeBroker(() => null)
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await assert.rejects(KafkaClient.connect(`127.0.0.1:${port}`), (err: unknown) =>
      err instanceof ClientError && err.message === `cannot connect to 127.0.0.1:${port}: ECONNREFUSED (is a broker running there?)`)
  })
})

describe('small parsers', () => {
  it('parseAddress', () => {
    assert.deepEqual(parseAddress('127.0.0.1:9093'), { host: '127.0.0.1', port: 9093 })
    assert.deepEqual(parseAddress('kafka.internal'), { host: 'kafka.internal', port: 9092 })
    assert.deepEqual(parseAddress('[::1]:19092'), { host: '::1', port: 19092 })
    assert.throws(() => parseAddress('host:99999'), ClientError)
    assert.throws(() => parseAddress(':9092'), ClientError)
  })

  it('parseDateTime takes ISO 8601 with or without a zone, and nothing vaguer', () => {
    assert.equal(parseDateTime('2024-05-01T12:00:00Z'), Date.UTC(2024, 4, 1, 12))
    assert.equal(parseDateTime('2024-05-01T12:00:00.250+02:00'), Date.UTC(2024, 4, 1, 10, 0, 0, 250))
    assert.equal(parseDateTime('2024-05-01T12:00:00+0200'), Date.UTC(2024, 4, 1, 10))
    assert.equal(parseDateTime('2024-05-01T12:00'), new Date(2024, 4, 1, 12).getTime(), 'no zone: local time')
    for (const bad of ['2024-05-01', 'yesterday', '1714564800000', '2024-13-01T00:00:00Z']) assert.throws(() => parseDateTime(bad), /ISO 8601/, bad)
  })

  it('table aligns columns and prints null as -', () => {
    assert.equal(table(['A', 'LONGER'], [['xyz', 1], [null, 22]]), 'A    LONGER\nxyz  1\n-    22\n')
  })

  it('decodeConsumerAssignment reads v0 and v3 assignments; empty bytes are no assignment', () => {
    const encode = (version: number) => {
      const w = new Writer()
      w.int16(version)
      w.int32(2)
      for (const [topic, ps] of [['b', [2, 0]], ['a', [1]]] as const) {
        w.int16(topic.length).utf8(topic, topic.length)
        w.int32(ps.length)
        for (const p of ps) w.int32(p)
      }
      w.int32(-1) // null user data
      return w.toBuffer()
    }
    for (const v of [0, 3]) assert.deepEqual(decodeConsumerAssignment(encode(v)), [{ topic: 'a', partitions: [1] }, { topic: 'b', partitions: [0, 2] }])
    assert.deepEqual(decodeConsumerAssignment(Buffer.alloc(0)), [])
  })
})

describe('admin operations at old API versions agree with the newest', { timeout: 90_000 }, () => {
  let dir: string
  let broker: ChildProcess
  let bootstrap: string

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fjord-cli-client-'))
    broker = spawn(process.execPath, [MAIN, 'broker', '--listen', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] })
    bootstrap = await new Promise<string>((resolve, reject) => {
      let buf = ''
      const timer = setTimeout(() => reject(new Error(`broker not ready: ${buf}`)), 15_000)
      broker.stdout!.on('data', (d: Buffer) => {
        buf += d.toString()
        const m = /ready.*?(127\.0\.0\.1:\d+)/.exec(buf)
        if (m) { clearTimeout(timer); resolve(m[1]!) }
      })
    })
  })

  after(async () => {
    if (broker.exitCode === null) {
      const exited = new Promise((resolve) => broker.once('exit', resolve))
      broker.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  })

  // API key -> highest version to use
  const profiles: Record<string, [number, number][]> = {
    oldest: [[3, 1], [2, 0], [9, 2], [10, 0], [15, 0], [16, 0], [32, 1], [19, 4], [20, 0], [42, 0], [8, 2]],
    middle: [[3, 8], [2, 5], [9, 7], [10, 3], [15, 4], [16, 3], [32, 3], [19, 5], [20, 5], [42, 1], [8, 7]],
  }

  it('describe topic and group, list, reset offsets and delete the group', async () => {
    const newest = await KafkaClient.connect(bootstrap)
    try {
      await createTopic(newest, 'versions', { partitions: 2, configs: { 'retention.ms': '999999' } })
      await new Promise<void>((resolve, reject) => {
        const p = execFile('kcat', ['-P', '-b', bootstrap, '-t', 'versions', '-p', '1'], (err) => (err ? reject(err) : resolve()))
        p.stdin!.end('a\nb\nc\n')
      })
      const topic = await describeTopic(newest, 'versions')
      assert.deepEqual(topic.partitionDetails.map((p) => p.logEndOffset), [0, 3])

      for (const [name, caps] of Object.entries(profiles)) {
        const group = `versions-${name}`
        const old = await KafkaClient.connect(bootstrap, { maxVersions: new Map(caps) })
        try {
          const plan = await planOffsetReset(old, group, [{ topic: 'versions', partitions: null }], { kind: 'offset', offset: 2 })
          assert.equal(plan.state, 'Dead', name)
          assert.deepEqual(plan.partitions.map((p) => p.newOffset), [0, 2], name)
          await executeOffsetReset(old, plan)
          const atOld = await describeGroup(old, group)
          const atNew = await describeGroup(newest, group)
          assert.deepEqual(atOld, atNew, name)
          assert.deepEqual(atNew.partitions.map((p) => [p.partition, p.currentOffset, p.logEndOffset, p.lag]), [[0, 0, 0, 0], [1, 2, 3, 1]], name)
          assert.equal(atNew.state, 'Empty', name)

          const oldTopic = await describeTopic(old, 'versions')
          assert.deepEqual(oldTopic.partitionDetails, topic.partitionDetails, name)
          assert.deepEqual(oldTopic.configs.find((c) => c.name === 'retention.ms'), topic.configs.find((c) => c.name === 'retention.ms'), name)
          const noIds = (ts: { topicId: string | null }[]) => ts.map((t) => ({ ...t, topicId: null })) // topic ids came with Metadata v10
          assert.deepEqual(noIds(await listTopics(old)), noIds(await listTopics(newest)), name)
          const listed = (await listGroups(old)).find((g) => g.groupId === group)
          assert.deepEqual(listed, { groupId: group, state: caps.some(([k, v]) => k === 16 && v < 4) ? null : 'Empty', protocolType: '', type: null }, name)

          await deleteGroup(old, group)
          await assert.rejects(describeGroup(newest, group), (err: unknown) => err instanceof KafkaError && err.code === ErrorCode.GROUP_ID_NOT_FOUND.code, name)
          await assert.rejects(deleteGroup(old, group), (err: unknown) => err instanceof KafkaError && err.code === ErrorCode.GROUP_ID_NOT_FOUND.code, name)
        } finally {
          await old.close()
        }
      }
    } finally {
      await newest.close()
    }
  })

  it('a KIP-848 consumer group: described with its assignment, reset refused while it has a member, allowed once empty', async () => {
    const client = await KafkaClient.connect(bootstrap)
    try {
      const group = 'kip848'
      await createTopic(client, 'kip848-t', { partitions: 2 })
      const { connection } = await client.coordinator(group)
      const heartbeat = async (memberId: string, memberEpoch: number) => {
        const { body } = await connection.send(Apis.ConsumerGroupHeartbeat, () => ({
          groupId: group, memberId, memberEpoch, instanceId: null, rackId: null, rebalanceTimeoutMs: 10_000,
          subscribedTopicNames: memberEpoch === 0 ? ['kip848-t'] : null, subscribedTopicRegex: null, serverAssignor: null, topicPartitions: memberEpoch === 0 ? [] : null,
        }))
        assert.equal(body.errorCode, 0, body.errorMessage ?? '')
        return body
      }
      const joined = await heartbeat('fjord-cli-test-member-0000000001', 0)
      const memberId = joined.memberId ?? 'fjord-cli-test-member-0000000001'
      let epoch = joined.memberEpoch
      for (let i = 0; i < 20 && (await describeGroup(client, group)).members[0]?.assignment.length !== 1; i++) epoch = (await heartbeat(memberId, epoch)).memberEpoch
      const d = await describeGroup(client, group)
      assert.equal(d.protocolType, 'consumer')
      assert.deepEqual(d.members.map((m) => [m.memberId, m.assignment]), [[memberId, [{ topic: 'kip848-t', partitions: [0, 1] }]]])
      await assert.rejects(planOffsetReset(client, group, [{ topic: 'kip848-t', partitions: null }], { kind: 'earliest' }), (err: unknown) =>
        err instanceof KafkaError && err.code === ErrorCode.NON_EMPTY_GROUP.code && /but it is (Stable|Reconciling|Assigning) with 1 active member/.test(err.message))
      await heartbeat(memberId, -1) // leaves
      const plan = await planOffsetReset(client, group, [{ topic: 'kip848-t', partitions: null }], { kind: 'latest' })
      assert.equal(plan.state, 'Empty')
      await executeOffsetReset(client, plan)
      assert.deepEqual((await describeGroup(client, group)).partitions.map((p) => [p.partition, p.currentOffset, p.lag]), [[0, 0, 0], [1, 0, 0]])
      await deleteGroup(client, group)
    } finally {
      await client.close()
    }
  })
})
