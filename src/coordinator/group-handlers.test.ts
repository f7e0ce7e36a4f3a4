// The group APIs over the wire at old and newest (flexible) versions, against an in-process
// broker: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, OffsetCommit, OffsetFetch,
// DescribeGroups, ListGroups, LeaveGroup, OffsetDelete, DeleteGroups.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { Broker } from '../broker/broker.js'
import { resolveSettings } from '../broker/config.js'
import { TestClient } from '../broker/handlers/test-client.js'
import { Apis } from '../protocol/apis.js'
import { ErrorCode } from '../protocol/errors.js'

const E = ErrorCode

interface Versions {
  find: number
  join: number
  sync: number
  heartbeat: number
  leave: number
  commit: number
  fetch: number
  describe: number
  list: number
  del: number
}

const VERSION_SETS: Versions[] = [
  { find: 0, join: 0, sync: 0, heartbeat: 0, leave: 0, commit: 0, fetch: 0, describe: 0, list: 0, del: 0 }, // kafka-python era
  { find: 1, join: 2, sync: 1, heartbeat: 1, leave: 1, commit: 2, fetch: 1, describe: 1, list: 1, del: 0 },
  { find: 2, join: 5, sync: 3, heartbeat: 3, leave: 3, commit: 5, fetch: 4, describe: 2, list: 2, del: 1 }, // KafkaJS 2.2.4
  { find: 2, join: 5, sync: 3, heartbeat: 3, leave: 1, commit: 7, fetch: 7, describe: 4, list: 4, del: 1 }, // librdkafka 2.0
  { find: 6, join: 9, sync: 5, heartbeat: 4, leave: 5, commit: 9, fetch: 9, describe: 5, list: 5, del: 2 }, // newest, flexible
]

describe('group APIs over the wire', () => {
  let dir: string
  let broker: Broker
  let client: TestClient

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fjord-group-handlers-'))
    broker = await Broker.open(resolveSettings({ listeners: '127.0.0.1:0', 'log.dirs': dir, 'group.initial.rebalance.delay.ms': '0' }, {}), pino({ level: 'silent' }))
    await broker.listen()
    await broker.createTopics([{ name: 't', partitions: 2, replicationFactor: 1, configs: {} }])
    client = await TestClient.connect('127.0.0.1', broker.port)
  })

  after(async () => {
    await client.close()
    await broker.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('creates __consumer_offsets as an internal compacted topic', () => {
    const t = broker.metadata.topic('__consumer_offsets')
    assert.ok(t)
    assert.equal(t.internal, true)
    assert.equal(t.configs['cleanup.policy'], 'compact')
  })

  for (const v of VERSION_SETS) {
    it(`a member's life at JoinGroup v${v.join}, SyncGroup v${v.sync}, OffsetCommit v${v.commit}, OffsetFetch v${v.fetch}`, async () => {
      const groupId = `g-${v.join}-${v.commit}-${v.fetch}`
      const find = await client.request(Apis.FindCoordinator, v.find, { key: groupId, keyType: 0, coordinatorKeys: [groupId, 'other'] })
      if (v.find < 4) {
        assert.equal(find.errorCode, 0)
        assert.equal(find.port, broker.port)
        assert.equal(find.nodeId, broker.brokerId)
      } else {
        assert.deepEqual(find.coordinators.map((c) => [c.key, c.port, c.errorCode]), [[groupId, broker.port, 0], ['other', broker.port, 0]])
      }

      const joinReq = { groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('meta') }], reason: null }
      let join = await client.request(Apis.JoinGroup, v.join, joinReq)
      if (v.join >= 4) {
        assert.equal(join.errorCode, E.MEMBER_ID_REQUIRED.code)
        join = await client.request(Apis.JoinGroup, v.join, { ...joinReq, memberId: join.memberId })
      }
      assert.equal(join.errorCode, 0)
      assert.equal(join.generationId, 1)
      assert.equal(join.leader, join.memberId)
      assert.equal(join.protocolName, 'range')
      assert.deepEqual(join.members.map((m) => m.metadata), [Buffer.from('meta')])
      const memberId = join.memberId

      const sync = await client.request(Apis.SyncGroup, v.sync, { groupId, generationId: 1, memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId, assignment: Buffer.from('assigned') }] })
      assert.equal(sync.errorCode, 0)
      assert.deepEqual(sync.assignment, Buffer.from('assigned'))
      if (v.sync >= 5) assert.equal(sync.protocolName, 'range')

      assert.equal((await client.request(Apis.Heartbeat, v.heartbeat, { groupId, generationId: 1, memberId, groupInstanceId: null })).errorCode, 0)
      assert.equal((await client.request(Apis.Heartbeat, v.heartbeat, { groupId, generationId: 2, memberId, groupInstanceId: null })).errorCode, E.ILLEGAL_GENERATION.code)

      // v0 commits come from outside group management: the live group refuses them
      const commit = await client.request(Apis.OffsetCommit, v.commit, {
        groupId, generationIdOrMemberEpoch: 1, memberId, groupInstanceId: null, retentionTimeMs: -1,
        topics: [{ name: 't', partitions: [{ partitionIndex: 1, committedOffset: 17, committedLeaderEpoch: 0, commitTimestamp: -1, committedMetadata: 'md' }] },
                 { name: 'missing', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }],
      })
      assert.deepEqual(commit.topics.map((t) => t.partitions[0]!.errorCode), [v.commit === 0 ? E.UNKNOWN_MEMBER_ID.code : 0, E.UNKNOWN_TOPIC_OR_PARTITION.code])

      const expected = v.commit === 0 ? -1 : 17
      if (v.fetch < 8) {
        const f = await client.request(Apis.OffsetFetch, v.fetch, { groupId, topics: [{ name: 't', partitionIndexes: [0, 1] }], requireStable: false })
        assert.deepEqual(f.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset]), [[0, -1], [1, expected]])
        if (v.commit > 0) assert.equal(f.topics[0]!.partitions[1]!.metadata, 'md')
      } else {
        const f = await client.request(Apis.OffsetFetch, v.fetch, { groups: [{ groupId, memberId: null, memberEpoch: -1, topics: null }, { groupId: 'nobody', memberId: null, memberEpoch: -1, topics: [{ name: 't', partitionIndexes: [0] }] }], requireStable: true })
        assert.deepEqual(f.groups.map((g) => g.topics.map((t) => [t.name, t.partitions.map((p) => p.committedOffset)])), [[['t', [17]]], [['t', [-1]]]])
      }

      const d = await client.request(Apis.DescribeGroups, v.describe, { groups: [groupId, 'nobody'], includeAuthorizedOperations: false })
      assert.deepEqual(d.groups.map((g) => [g.groupId, g.groupState, g.members.length]), [[groupId, 'Stable', 1], ['nobody', 'Dead', 0]])
      assert.deepEqual(d.groups[0]!.members[0]!.memberAssignment, Buffer.from('assigned'))

      const l = await client.request(Apis.ListGroups, v.list, { statesFilter: ['Stable'], typesFilter: [] })
      const listed = l.groups.find((g) => g.groupId === groupId)
      assert.ok(listed)
      assert.equal(listed.protocolType, 'consumer')

      const del1 = await client.request(Apis.DeleteGroups, v.del, { groupsNames: [groupId] })
      assert.equal(del1.results[0]!.errorCode, E.NON_EMPTY_GROUP.code)

      const leave = await client.request(Apis.LeaveGroup, v.leave, { groupId, memberId, members: [{ memberId, groupInstanceId: null, reason: null }] })
      assert.equal(leave.errorCode, 0)
      if (v.leave >= 3) assert.deepEqual(leave.members.map((m) => m.errorCode), [0])

      const od = await client.request(Apis.OffsetDelete, 0, { groupId, topics: [{ name: 't', partitions: [{ partitionIndex: 1 }] }] })
      assert.equal(od.errorCode, 0)
      assert.equal(od.topics[0]!.partitions[0]!.errorCode, 0)

      const del2 = await client.request(Apis.DeleteGroups, v.del, { groupsNames: [groupId, 'nobody'] })
      assert.deepEqual(del2.results.map((r) => r.errorCode), [0, E.GROUP_ID_NOT_FOUND.code])
    })
  }

  it('commits outside group management (generation -1) and fetches all offsets with topics=null', async () => {
    const commit = await client.request(Apis.OffsetCommit, 2, { groupId: 'simple', generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1, topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 3, committedMetadata: '' }, { partitionIndex: 1, committedOffset: 4, committedMetadata: '' }] }] })
    assert.deepEqual(commit.topics[0]!.partitions.map((p) => p.errorCode), [0, 0])
    const f = await client.request(Apis.OffsetFetch, 3, { groupId: 'simple', topics: null, requireStable: false })
    assert.deepEqual(f.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.committedOffset])]), [['t', [[0, 3], [1, 4]]]])
    const l = await client.request(Apis.ListGroups, 4, { statesFilter: ['Empty'], typesFilter: [] })
    assert.ok(l.groups.some((g) => g.groupId === 'simple' && g.groupState === 'Empty'))
  })

  it('OffsetFetch answers NOT_COORDINATOR per partition (v0-1), at group level without topics (v2+) for a group not coordinated here', async () => {
    const epoch = broker.replicas.get('__consumer_offsets', 0)!.state.leaderEpoch
    broker.groups.resign(0)
    try {
      const v1 = await client.request(Apis.OffsetFetch, 1, { groupId: 'simple', topics: [{ name: 't', partitionIndexes: [0, 1] }], requireStable: false })
      assert.deepEqual(v1.topics.flatMap((t) => t.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.errorCode])), [[0, -1, E.NOT_COORDINATOR.code], [1, -1, E.NOT_COORDINATOR.code]])
      for (const version of [2, 7]) {
        const f = await client.request(Apis.OffsetFetch, version, { groupId: 'simple', topics: [{ name: 't', partitionIndexes: [0] }], requireStable: false })
        assert.equal(f.errorCode, E.NOT_COORDINATOR.code, `v${version}`)
        assert.deepEqual(f.topics, [])
      }
      const v9 = await client.request(Apis.OffsetFetch, 9, { groups: [{ groupId: 'simple', memberId: null, memberEpoch: -1, topics: null }], requireStable: false })
      assert.deepEqual(v9.groups.map((g) => [g.groupId, g.errorCode, g.topics.length]), [['simple', E.NOT_COORDINATOR.code, 0]])
      const l = await client.request(Apis.ListGroups, 4, { statesFilter: [], typesFilter: [] })
      assert.equal(l.errorCode, 0)
      assert.ok(!l.groups.some((g) => g.groupId === 'simple'), 'groups of partitions not served here are not listed')
    } finally {
      await broker.groups.becomeLeader(0, epoch)
    }
    const f = await client.request(Apis.OffsetFetch, 3, { groupId: 'simple', topics: null, requireStable: false })
    assert.equal(f.errorCode, 0)
    assert.deepEqual(f.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.committedOffset])]), [['t', [[0, 3], [1, 4]]]])
  })
})
