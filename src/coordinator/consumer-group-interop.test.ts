// KIP-848 consumer groups on the wire, against an in-process broker: two @platformatic/kafka 1.35
// consumers with groupProtocol 'consumer' share a 4-partition topic, commit, and one takes over
// when the other leaves; then raw requests with our TestClient for the error codes.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { Consumer, Producer, type MessagesStream } from '@platformatic/kafka'
import { Broker } from '../broker/broker.js'
import { resolveSettings } from '../broker/config.js'
import { TestClient } from '../broker/handlers/test-client.js'
import { Apis } from '../protocol/apis.js'
import { ErrorCode } from '../protocol/errors.js'

const E = ErrorCode

async function until(what: string, cond: () => boolean, timeoutMs = 20_000, show?: () => unknown): Promise<void> {
  const started = Date.now()
  while (!cond()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(show?.())}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('KIP-848 consumer groups over the wire', () => {
  let dir: string
  let broker: Broker
  let client: TestClient
  let bootstrap: string

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fjord-consumer-groups-'))
    broker = await Broker.open(
      resolveSettings({ listeners: '127.0.0.1:0', 'log.dirs': dir, 'group.initial.rebalance.delay.ms': '0', 'group.consumer.heartbeat.interval.ms': '300' }, {}),
      pino({ level: 'silent' }),
    )
    await broker.listen()
    await broker.createTopics([
      { name: 'orders', partitions: 4, replicationFactor: 1, configs: {} },
      { name: 'raw', partitions: 2, replicationFactor: 1, configs: {} },
    ])
    bootstrap = `127.0.0.1:${broker.port}`
    client = await TestClient.connect('127.0.0.1', broker.port)
  })

  after(async () => {
    await client.close()
    await broker.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('@platformatic/kafka: two members split 4 partitions, consume and commit everything; one leaves and the other takes all', async () => {
    const producer = new Producer({ clientId: 'cg-producer', bootstrapBrokers: [bootstrap], autocreateTopics: false })
    const produce = async (tag: string) => {
      const messages = []
      for (let p = 0; p < 4; p++) for (let i = 0; i < 10; i++) messages.push({ topic: 'orders', partition: p, key: Buffer.from(`${tag}-${p}-${i}`), value: Buffer.from('v') })
      await producer.send({ acks: -1, messages })
    }
    await produce('a')

    interface Member {
      consumer: Consumer<Buffer, Buffer, Buffer, Buffer>
      stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>
      seen: string[]
      loop: Promise<void>
    }
    const problems: string[] = []
    const start = async (name: string): Promise<Member> => {
      const consumer = new Consumer({ clientId: name, bootstrapBrokers: [bootstrap], groupId: 'plt-848', groupProtocol: 'consumer', autocommit: false, maxWaitTime: 100, retries: 10, retryDelay: 200 })
      const stream = await consumer.consume({ topics: ['orders'], mode: 'committed', fallbackMode: 'earliest', autocommit: false, maxWaitTime: 100 })
      const seen: string[] = []
      const loop = (async () => {
        for await (const m of stream) {
          seen.push(m.key.toString())
          try {
            await m.commit()
          } catch (e) {
            problems.push(`${name} commit: ${(e as Error).message}`)
          }
        }
      })().catch((e: unknown) => {
        problems.push(`${name} loop: ${(e as Error).message}`)
      })
      return { consumer, stream, seen, loop }
    }
    const partitionsOf = (m: Member) => (m.consumer.assignments ?? []).filter((a) => a.topic === 'orders').flatMap((a) => a.partitions).sort()

    const one = await start('plt-one')
    const two = await start('plt-two')
    try {
      await until('two disjoint non-empty shares', () => {
        const a = partitionsOf(one)
        const b = partitionsOf(two)
        return a.length > 0 && b.length > 0 && a.length + b.length === 4 && new Set([...a, ...b]).size === 4
      }, 20_000, () => [partitionsOf(one), partitionsOf(two)])
      await until('every record consumed', () => new Set([...one.seen, ...two.seen]).size === 40, 20_000, () => [one.seen.length, two.seen.length])
      const d = await client.request(Apis.ConsumerGroupDescribe, 0, { groupIds: ['plt-848'], includeAuthorizedOperations: false })
      const g = d.groups[0]!
      assert.equal(g.errorCode, 0)
      assert.equal(g.groupState, 'Stable')
      assert.equal(g.assignorName, 'uniform')
      assert.equal(g.members.length, 2)
      assert.deepEqual(g.members.map((m) => m.assignment.topicPartitions[0]!.partitions.length), [2, 2])
      assert.deepEqual(g.members.map((m) => m.assignment.topicPartitions[0]!.topicName), ['orders', 'orders'])

      const l = await client.request(Apis.ListGroups, 5, { statesFilter: [], typesFilter: ['consumer'] })
      assert.deepEqual(l.groups.map((x) => [x.groupId, x.groupType, x.protocolType]), [['plt-848', 'consumer', 'consumer']])

      // one leaves (memberEpoch -1): two takes every partition
      await one.stream.close()
      await one.loop
      await one.consumer.close(true)
      await until('the remaining member owns all 4 partitions', () => partitionsOf(two).length === 4, 20_000, () => partitionsOf(two))
      await produce('b')
      await until('the new records of every partition reach the remaining member', () => two.seen.filter((k) => k.startsWith('b-')).length === 40, 20_000, () => two.seen.length)
      const fromOneAgain = two.seen.filter((k) => k.startsWith('a-') && one.seen.includes(k))
      assert.deepEqual(fromOneAgain, [], 'records committed by the member that left are not consumed again')
    } finally {
      await two.stream.close()
      await two.loop
      await two.consumer.close(true)
      await producer.close()
    }
    assert.deepEqual(problems, [])
    const f = await client.request(Apis.OffsetFetch, 9, { groups: [{ groupId: 'plt-848', memberId: null, memberEpoch: -1, topics: [{ name: 'orders', partitionIndexes: [0, 1, 2, 3] }] }], requireStable: false })
    assert.deepEqual(f.groups[0]!.topics[0]!.partitions.map((p) => p.committedOffset), [20, 20, 20, 20])
    const after = await client.request(Apis.ConsumerGroupDescribe, 0, { groupIds: ['plt-848'], includeAuthorizedOperations: false })
    assert.equal(after.groups[0]!.groupState, 'Empty')
  })

  it('raw requests: join, heartbeat, commit with the member epoch, and the error codes', async () => {
    const raw = broker.metadata.topic('raw')!
    const join = { groupId: 'raw-g', memberId: 'm-1', memberEpoch: 0, instanceId: null, rackId: null, rebalanceTimeoutMs: 10_000, subscribedTopicNames: ['raw'], subscribedTopicRegex: null, serverAssignor: null, topicPartitions: [] }
    for (const v of [0, 1]) {
      const bad = await client.request(Apis.ConsumerGroupHeartbeat, v, { ...join, rebalanceTimeoutMs: -1 })
      assert.equal(bad.errorCode, E.INVALID_REQUEST.code)
      assert.match(bad.errorMessage ?? '', /RebalanceTimeoutMs/)
      assert.equal((await client.request(Apis.ConsumerGroupHeartbeat, v, { ...join, subscribedTopicNames: null })).errorCode, E.INVALID_REQUEST.code)
      assert.equal((await client.request(Apis.ConsumerGroupHeartbeat, v, { ...join, serverAssignor: 'cooperative-sticky' })).errorCode, E.UNSUPPORTED_ASSIGNOR.code)
    }
    assert.equal((await client.request(Apis.ConsumerGroupHeartbeat, 1, { ...join, memberId: '' })).errorCode, E.INVALID_REQUEST.code)
    assert.equal((await client.request(Apis.ConsumerGroupHeartbeat, 1, { ...join, subscribedTopicNames: [], subscribedTopicRegex: '(r+)+' })).errorCode, E.INVALID_REQUEST.code)
    assert.equal((await client.request(Apis.ConsumerGroupHeartbeat, 1, { ...join, memberEpoch: 3 })).errorCode, E.GROUP_ID_NOT_FOUND.code)

    const ok = await client.request(Apis.ConsumerGroupHeartbeat, 1, join)
    assert.equal(ok.errorCode, 0)
    assert.equal(ok.memberId, 'm-1')
    assert.equal(ok.memberEpoch, 1)
    assert.equal(ok.heartbeatIntervalMs, 300)
    assert.deepEqual(ok.assignment?.topicPartitions, [{ topicId: raw.id, partitions: [0, 1] }])
    // v0: the coordinator picks the member id
    const v0 = await client.request(Apis.ConsumerGroupHeartbeat, 0, { ...join, groupId: 'raw-v0', memberId: '' })
    assert.equal(v0.errorCode, 0)
    assert.ok(v0.memberId)

    const beat = { ...join, memberEpoch: 1, rebalanceTimeoutMs: -1, subscribedTopicNames: null, topicPartitions: null }
    assert.equal((await client.request(Apis.ConsumerGroupHeartbeat, 1, beat)).errorCode, 0)
    assert.equal((await client.request(Apis.ConsumerGroupHeartbeat, 1, { ...beat, memberEpoch: 7 })).errorCode, E.FENCED_MEMBER_EPOCH.code)
    assert.equal((await client.request(Apis.ConsumerGroupHeartbeat, 1, { ...beat, memberId: 'nobody' })).errorCode, E.UNKNOWN_MEMBER_ID.code)

    // OffsetCommit v9 carries the member epoch
    const commit = (epoch: number) =>
      client.request(Apis.OffsetCommit, 9, { groupId: 'raw-g', generationIdOrMemberEpoch: epoch, memberId: 'm-1', groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 'raw', partitions: [{ partitionIndex: 1, committedOffset: 5, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }] })
    assert.equal((await commit(1)).topics[0]!.partitions[0]!.errorCode, 0)
    assert.equal((await commit(2)).topics[0]!.partitions[0]!.errorCode, E.STALE_MEMBER_EPOCH.code)
    const fetched = await client.request(Apis.OffsetFetch, 9, { groups: [{ groupId: 'raw-g', memberId: 'm-1', memberEpoch: 1, topics: null }], requireStable: false })
    assert.deepEqual(fetched.groups[0]!.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.committedOffset])]), [['raw', [[1, 5]]]])

    // one group id, one protocol
    const classicJoin = await client.request(Apis.JoinGroup, 5, { groupId: 'raw-g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null })
    assert.equal(classicJoin.errorCode, E.INCONSISTENT_GROUP_PROTOCOL.code)
    const cj = { groupId: 'raw-classic', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null }
    assert.equal((await client.request(Apis.JoinGroup, 3, cj)).errorCode, 0)
    assert.equal((await client.request(Apis.ConsumerGroupHeartbeat, 1, { ...join, groupId: 'raw-classic' })).errorCode, E.GROUP_ID_NOT_FOUND.code)
    const dc = await client.request(Apis.ConsumerGroupDescribe, 0, { groupIds: ['raw-classic', 'nope'], includeAuthorizedOperations: false })
    assert.deepEqual(dc.groups.map((g) => g.errorCode), [E.GROUP_ID_NOT_FOUND.code, E.GROUP_ID_NOT_FOUND.code])
    assert.match(dc.groups[0]!.errorMessage ?? '', /not a consumer group/)

    // the classic DescribeGroups view
    const dg = await client.request(Apis.DescribeGroups, 5, { groups: ['raw-g'], includeAuthorizedOperations: false })
    assert.deepEqual([dg.groups[0]!.groupState, dg.groups[0]!.protocolType, dg.groups[0]!.protocolData, dg.groups[0]!.members.length], ['Stable', 'consumer', 'uniform', 1])

    // static members
    const s = { ...join, groupId: 'raw-static', memberId: 's-1', instanceId: 'inst' }
    assert.equal((await client.request(Apis.ConsumerGroupHeartbeat, 1, s)).errorCode, 0)
    assert.equal((await client.request(Apis.ConsumerGroupHeartbeat, 1, { ...s, memberId: 's-2' })).errorCode, E.UNRELEASED_INSTANCE_ID.code)
    const left = await client.request(Apis.ConsumerGroupHeartbeat, 1, { ...s, memberEpoch: -2 })
    assert.deepEqual([left.errorCode, left.memberEpoch], [0, -2])
    const took = await client.request(Apis.ConsumerGroupHeartbeat, 1, { ...s, memberId: 's-2' })
    assert.deepEqual([took.errorCode, took.assignment?.topicPartitions[0]?.partitions], [0, [0, 1]])

    // leave; the group is empty and may be deleted
    const leave = await client.request(Apis.ConsumerGroupHeartbeat, 1, { ...beat, memberEpoch: -1 })
    assert.deepEqual([leave.errorCode, leave.memberEpoch], [0, -1])
    const del = await client.request(Apis.DeleteGroups, 2, { groupsNames: ['raw-g', 'raw-static'] })
    assert.deepEqual(del.results.map((r) => r.errorCode), [0, E.NON_EMPTY_GROUP.code])
  })
})

describe('KIP-848 consumer groups across a broker restart', () => {
  it('members keep their epoch and assignment, committed offsets survive', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fjord-consumer-groups-restart-'))
    const open = async () => {
      const b = await Broker.open(resolveSettings({ listeners: '127.0.0.1:0', 'log.dirs': dir }, {}), pino({ level: 'silent' }))
      await b.listen()
      return b
    }
    let broker = await open()
    try {
      await broker.createTopics([{ name: 't', partitions: 2, replicationFactor: 1, configs: {} }])
      let client = await TestClient.connect('127.0.0.1', broker.port)
      const join = { groupId: 'rg', memberId: 'm', memberEpoch: 0, instanceId: null, rackId: null, rebalanceTimeoutMs: 10_000, subscribedTopicNames: ['t'], subscribedTopicRegex: null, serverAssignor: null, topicPartitions: [] }
      const j = await client.request(Apis.ConsumerGroupHeartbeat, 1, join)
      assert.equal(j.memberEpoch, 1)
      const c = await client.request(Apis.OffsetCommit, 9, { groupId: 'rg', generationIdOrMemberEpoch: 1, memberId: 'm', groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 3, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }] })
      assert.equal(c.topics[0]!.partitions[0]!.errorCode, 0)
      await client.close()
      await broker.close()

      broker = await open()
      client = await TestClient.connect('127.0.0.1', broker.port)
      const owned = j.assignment!.topicPartitions
      const beat = await client.request(Apis.ConsumerGroupHeartbeat, 1, { ...join, memberEpoch: 1, topicPartitions: owned })
      assert.equal(beat.errorCode, 0)
      assert.ok(beat.memberEpoch > 1)
      assert.deepEqual(beat.assignment?.topicPartitions, owned)
      const f = await client.request(Apis.OffsetFetch, 9, { groups: [{ groupId: 'rg', memberId: 'm', memberEpoch: beat.memberEpoch, topics: [{ name: 't', partitionIndexes: [0] }] }], requireStable: false })
      assert.equal(f.groups[0]!.topics[0]!.partitions[0]!.committedOffset, 3)
      const classicJoin = await client.request(Apis.JoinGroup, 5, { groupId: 'rg', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null })
      assert.equal(classicJoin.errorCode, E.INCONSISTENT_GROUP_PROTOCOL.code)
      await client.close()
    } finally {
      await broker.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
