// The KIP-848 consumer group state machine: assignors, reconciliation (revoke before assign),
// epochs, fencing, static members, error codes, offsets shared with the classic coordinator,
// and a restart from the records.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ErrorCode } from '../protocol/errors.js'
import { groupConfig } from './config.js'
import { rangeAssignor, uniformAssignor, type Assignment } from './consumer-group-assignor.js'
import { ConsumerGroupCoordinator, compileSubscriptionRegex, consumerGroupConfig, type ConsumerHeartbeatRequest, type ConsumerHeartbeatResult, type TopicView } from './consumer-group-coordinator.js'
import { GroupCoordinator } from './group-coordinator.js'
import { MemoryGroupStore } from './offsets-log.js'

const E = ErrorCode
const FOO = 'f'.repeat(32)
const BAR = 'b'.repeat(32)

class Topics {
  readonly byName = new Map<string, TopicView>()
  add(name: string, id: string, partitions: number, internal = false): void {
    this.byName.set(name, { name, id, partitions, internal })
  }
  topic(name: string) {
    return this.byName.get(name)
  }
  topicById(id: string) {
    return [...this.byName.values()].find((t) => t.id === id)
  }
  allTopics() {
    return this.byName.values()
  }
}

/** A classic and a consumer group coordinator sharing a store, leading its (one) offsets partition. */
async function setup(settings: Record<string, string> = {}, store = new MemoryGroupStore(), topics = new Topics()) {
  if (topics.byName.size === 0) {
    topics.add('foo', FOO, 4)
    topics.add('bar', BAR, 2)
    topics.add('__consumer_offsets', 'c'.repeat(32), 1, true)
  }
  const classic = new GroupCoordinator(groupConfig({ 'group.initial.rebalance.delay.ms': '0' }), store)
  const cg = new ConsumerGroupCoordinator(consumerGroupConfig(settings), store, topics, classic)
  classic.consumerGroups = cg
  await classic.load()
  return { classic, cg, store, topics }
}

function hb(over: Partial<ConsumerHeartbeatRequest>): ConsumerHeartbeatRequest {
  return {
    groupId: 'g',
    memberId: '',
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: 30_000,
    subscribedTopicNames: ['foo'],
    subscribedTopicRegex: null,
    serverAssignor: null,
    topicPartitions: [],
    clientId: 'c',
    clientHost: '/127.0.0.1',
    apiVersion: 1,
    ...over,
  }
}

const parts = (r: ConsumerHeartbeatResult, topicId = FOO) => r.assignment?.topicPartitions.find((t) => t.topicId === topicId)?.partitions ?? []
const owned = (r: ConsumerHeartbeatResult) => r.assignment!.topicPartitions

const flat = (a: Assignment | undefined) => [...(a ?? new Map()).entries()].flatMap(([t, s]) => [...s].map((p) => `${t[0]}${p}`)).sort()

describe('server-side assignors', () => {
  const counts = new Map([[FOO, 4], [BAR, 2]])
  it('uniform: balanced and sticky with identical subscriptions', () => {
    const first = uniformAssignor.assign({ members: [{ memberId: 'a', topics: new Set([FOO, BAR]), current: new Map() }, { memberId: 'b', topics: new Set([FOO, BAR]), current: new Map() }], partitionCounts: counts })
    assert.equal(flat(first.get('a')).length, 3)
    assert.equal(flat(first.get('b')).length, 3)
    const second = uniformAssignor.assign({
      members: [
        { memberId: 'a', topics: new Set([FOO, BAR]), current: first.get('a')! },
        { memberId: 'b', topics: new Set([FOO, BAR]), current: first.get('b')! },
        { memberId: 'c', topics: new Set([FOO, BAR]), current: new Map() },
      ],
      partitionCounts: counts,
    })
    for (const id of ['a', 'b', 'c']) assert.equal(flat(second.get(id)).length, 2)
    // a and b keep two of their old partitions each
    for (const id of ['a', 'b']) assert.ok(flat(second.get(id)).every((p) => flat(first.get(id)).includes(p)))
  })
  it('uniform: different subscriptions go to subscribers only, balanced', () => {
    const out = uniformAssignor.assign({ members: [{ memberId: 'a', topics: new Set([FOO]), current: new Map() }, { memberId: 'b', topics: new Set([FOO, BAR]), current: new Map() }], partitionCounts: counts })
    assert.ok(flat(out.get('a')).every((p) => p.startsWith('f')))
    assert.equal(flat(out.get('a')).length + flat(out.get('b')).length, 6)
    assert.equal(flat(out.get('a')).length, 3)
  })
  it('range: consecutive ranges per topic in member id order', () => {
    const out = rangeAssignor.assign({ members: [{ memberId: 'b', topics: new Set([FOO, BAR]), current: new Map() }, { memberId: 'a', topics: new Set([FOO, BAR]), current: new Map() }], partitionCounts: counts })
    assert.deepEqual(flat(out.get('a')), ['b0', 'f0', 'f1'])
    assert.deepEqual(flat(out.get('b')), ['b1', 'f2', 'f3'])
  })
})

describe('subscription regexes', () => {
  it('match whole topic names; costly or unsupported patterns are refused', () => {
    assert.ok(compileSubscriptionRegex('fo.*').test('foo'))
    assert.ok(!compileSubscriptionRegex('fo').test('foo'))
    assert.ok(compileSubscriptionRegex('(orders|payments)-[0-9]+').test('orders-12'))
    for (const bad of ['(a+)+$', '(a|aa)*', '(\\w)\\1', '(?=x)foo', 'a*b*c*d*', '[', 'x'.repeat(300)]) {
      assert.throws(() => compileSubscriptionRegex(bad), (e: { errorCode: number }) => e.errorCode === E.INVALID_REQUEST.code, bad)
    }
  })
})

describe('consumer group heartbeat', () => {
  it('a first member joins, gets every partition and a stable group', async () => {
    const { cg } = await setup()
    const r = await cg.heartbeat(hb({ memberId: 'm1' }))
    assert.equal(r.errorCode, 0)
    assert.equal(r.memberId, 'm1')
    assert.equal(r.memberEpoch, 1)
    assert.equal(r.heartbeatIntervalMs, 5000)
    assert.deepEqual(parts(r), [0, 1, 2, 3])
    assert.equal(cg.group('g')!.state, 'Stable')
    // a heartbeat that changes nothing bumps nothing
    const again = await cg.heartbeat(hb({ memberId: 'm1', memberEpoch: 1, rebalanceTimeoutMs: -1, subscribedTopicNames: null, topicPartitions: null }))
    assert.equal(again.memberEpoch, 1)
    assert.equal(again.assignment, null)
  })

  it('v0 generates the member id', async () => {
    const { cg } = await setup()
    const r = await cg.heartbeat(hb({ apiVersion: 0 }))
    assert.equal(r.errorCode, 0)
    assert.ok(r.memberId && r.memberId.length > 0)
  })

  it('revokes before it assigns: a partition moves only once its owner gave it up', async () => {
    const { cg } = await setup()
    const a1 = await cg.heartbeat(hb({ memberId: 'a' }))
    assert.deepEqual(parts(a1), [0, 1, 2, 3])
    // b joins: epoch 2, but every partition is still a's
    const b1 = await cg.heartbeat(hb({ memberId: 'b' }))
    assert.equal(b1.memberEpoch, 2)
    assert.deepEqual(parts(b1), [])
    assert.equal(cg.group('g')!.members.find((m) => m.memberId === 'b')!.state, 'unreleased_partitions')
    assert.equal(cg.group('g')!.state, 'Reconciling')
    // a is told to keep two: it stays at epoch 1 until it revokes
    const a2 = await cg.heartbeat(hb({ memberId: 'a', memberEpoch: 1, topicPartitions: owned(a1) }))
    assert.equal(a2.memberEpoch, 1)
    assert.equal(parts(a2).length, 2)
    const revoked = [0, 1, 2, 3].filter((p) => !parts(a2).includes(p))
    // b still gets nothing: a has not confirmed
    const b2 = await cg.heartbeat(hb({ memberId: 'b', memberEpoch: 2, topicPartitions: [] }))
    assert.deepEqual(parts(b2), [])
    // a confirms (owned no longer lists them) and moves to epoch 2
    const a3 = await cg.heartbeat(hb({ memberId: 'a', memberEpoch: 1, topicPartitions: owned(a2) }))
    assert.equal(a3.memberEpoch, 2)
    const b3 = await cg.heartbeat(hb({ memberId: 'b', memberEpoch: 2, topicPartitions: [] }))
    assert.deepEqual(parts(b3), revoked)
    assert.equal(cg.group('g')!.state, 'Stable')
  })

  it('a member that leaves (-1) bumps the epoch; the other takes all partitions', async () => {
    const { cg } = await setup()
    const a = await cg.heartbeat(hb({ memberId: 'a' }))
    await cg.heartbeat(hb({ memberId: 'b' }))
    const a2 = await cg.heartbeat(hb({ memberId: 'a', memberEpoch: a.memberEpoch, topicPartitions: owned(a) }))
    await cg.heartbeat(hb({ memberId: 'a', memberEpoch: a2.memberEpoch, topicPartitions: owned(a2) }))
    const epoch = cg.group('g')!.groupEpoch
    const leave = await cg.heartbeat(hb({ memberId: 'b', memberEpoch: -1, subscribedTopicNames: [], topicPartitions: [] }))
    assert.equal(leave.errorCode, 0)
    assert.equal(leave.memberEpoch, -1)
    assert.equal(cg.group('g')!.groupEpoch, epoch + 1)
    const a3 = await cg.heartbeat(hb({ memberId: 'a', memberEpoch: 2, topicPartitions: [{ topicId: FOO, partitions: [0, 1] }] }))
    assert.equal(a3.memberEpoch, epoch + 1)
    assert.deepEqual(parts(a3), [0, 1, 2, 3])
  })

  it('fences wrong epochs, unknown members and groups, and validates joins', async () => {
    const { cg } = await setup()
    assert.equal((await cg.heartbeat(hb({ memberId: 'x', memberEpoch: 3 }))).errorCode, E.GROUP_ID_NOT_FOUND.code)
    await cg.heartbeat(hb({ memberId: 'a' }))
    assert.equal((await cg.heartbeat(hb({ memberId: 'a', memberEpoch: 5 }))).errorCode, E.FENCED_MEMBER_EPOCH.code)
    assert.equal((await cg.heartbeat(hb({ memberId: 'x', memberEpoch: 1 }))).errorCode, E.UNKNOWN_MEMBER_ID.code)
    assert.equal((await cg.heartbeat(hb({ memberId: 'x', memberEpoch: -1 }))).errorCode, E.UNKNOWN_MEMBER_ID.code)
    assert.equal((await cg.heartbeat(hb({ memberId: 'b', rebalanceTimeoutMs: -1 }))).errorCode, E.INVALID_REQUEST.code)
    assert.equal((await cg.heartbeat(hb({ memberId: 'b', subscribedTopicNames: null }))).errorCode, E.INVALID_REQUEST.code)
    assert.equal((await cg.heartbeat(hb({ memberId: 'b', topicPartitions: null }))).errorCode, E.INVALID_REQUEST.code)
    assert.equal((await cg.heartbeat(hb({ memberId: '' }))).errorCode, E.INVALID_REQUEST.code)
    assert.equal((await cg.heartbeat(hb({ memberId: 'b', memberEpoch: -3 }))).errorCode, E.INVALID_REQUEST.code)
    assert.equal((await cg.heartbeat(hb({ memberId: 'b', serverAssignor: 'sticky' }))).errorCode, E.UNSUPPORTED_ASSIGNOR.code)
    assert.equal((await cg.heartbeat(hb({ memberId: 'b', subscribedTopicNames: null, subscribedTopicRegex: '(a+)+' }))).errorCode, E.INVALID_REQUEST.code)
  })

  it('a member that rejoins with epoch 0 after being fenced gets its partitions back', async () => {
    const { cg } = await setup()
    await cg.heartbeat(hb({ memberId: 'a' }))
    const again = await cg.heartbeat(hb({ memberId: 'a' }))
    assert.equal(again.errorCode, 0)
    assert.deepEqual(parts(again), [0, 1, 2, 3])
  })

  it('group.consumer.max.size refuses new members', async () => {
    const { cg } = await setup({ 'group.consumer.max.size': '1' })
    assert.equal((await cg.heartbeat(hb({ memberId: 'a' }))).errorCode, 0)
    assert.equal((await cg.heartbeat(hb({ memberId: 'b' }))).errorCode, E.GROUP_MAX_SIZE_REACHED.code)
  })

  it('static members: -2 keeps the partitions for the next member with the instance id', async () => {
    const { cg } = await setup()
    const a = await cg.heartbeat(hb({ memberId: 'a', instanceId: 'i1' }))
    assert.deepEqual(parts(a), [0, 1, 2, 3])
    assert.equal((await cg.heartbeat(hb({ memberId: 'b', instanceId: 'i1' }))).errorCode, E.UNRELEASED_INSTANCE_ID.code)
    assert.equal((await cg.heartbeat(hb({ memberId: 'b', instanceId: 'i1', memberEpoch: 1 }))).errorCode, E.FENCED_INSTANCE_ID.code)
    const epoch = cg.group('g')!.groupEpoch
    const leave = await cg.heartbeat(hb({ memberId: 'a', instanceId: 'i1', memberEpoch: -2 }))
    assert.equal(leave.memberEpoch, -2)
    assert.equal(cg.group('g')!.groupEpoch, epoch)
    const b = await cg.heartbeat(hb({ memberId: 'b', instanceId: 'i1' }))
    assert.equal(b.errorCode, 0)
    assert.deepEqual(parts(b), [0, 1, 2, 3])
    assert.deepEqual(cg.group('g')!.members.map((m) => m.memberId), ['b'])
    assert.equal(cg.group('g')!.groupEpoch, epoch)
  })

  it('a new partition or a new topic matching the regex bumps the epoch', async () => {
    const { cg, topics } = await setup()
    const a = await cg.heartbeat(hb({ memberId: 'a', subscribedTopicNames: [], subscribedTopicRegex: 'ba.*' }))
    assert.deepEqual(parts(a, BAR), [0, 1])
    assert.deepEqual(parts(a, FOO), [])
    topics.add('baz', 'a'.repeat(32), 1)
    const a2 = await cg.heartbeat(hb({ memberId: 'a', memberEpoch: a.memberEpoch, subscribedTopicNames: null, topicPartitions: owned(a) }))
    assert.equal(a2.memberEpoch, a.memberEpoch + 1)
    assert.deepEqual(parts(a2, 'a'.repeat(32)), [0])
    topics.add('bar', BAR, 3)
    const a3 = await cg.heartbeat(hb({ memberId: 'a', memberEpoch: a2.memberEpoch, subscribedTopicNames: null, topicPartitions: owned(a2) }))
    assert.deepEqual(parts(a3, BAR), [0, 1, 2])
  })

  it('the assignor the members name is used', async () => {
    const { cg } = await setup()
    await cg.heartbeat(hb({ memberId: 'a', serverAssignor: 'range', subscribedTopicNames: ['foo', 'bar'] }))
    await cg.heartbeat(hb({ memberId: 'b', serverAssignor: 'range', subscribedTopicNames: ['foo', 'bar'] }))
    const [d] = cg.describeGroups(['g'])
    assert.equal(d!.assignorName, 'range')
    const target = d!.members.find((m) => m.memberId === 'a')!.targetAssignment.topicPartitions
    assert.deepEqual(target.map((t) => [t.topicName, t.partitions]).sort(), [['bar', [0]], ['foo', [0, 1]]])
  })

  it('a session that ends fences the member and bumps the epoch', async () => {
    const { cg } = await setup()
    await cg.heartbeat(hb({ memberId: 'a' }))
    const epoch = cg.group('g')!.groupEpoch
    cg.expireSession('g', 'a')
    assert.equal(cg.group('g')!.state, 'Empty')
    assert.equal(cg.group('g')!.groupEpoch, epoch + 1)
    assert.equal((await cg.heartbeat(hb({ memberId: 'a', memberEpoch: 1 }))).errorCode, E.UNKNOWN_MEMBER_ID.code)
  })
})

describe('consumer groups beside classic groups', () => {
  it('classic JoinGroup for a consumer group is INCONSISTENT_GROUP_PROTOCOL; ConsumerGroupHeartbeat for a classic group is GROUP_ID_NOT_FOUND', async () => {
    const { cg, classic } = await setup()
    await cg.heartbeat(hb({ memberId: 'a' }))
    const join = await classic.join({ groupId: 'g', memberId: '', groupInstanceId: null, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], clientId: 'c', clientHost: 'h', apiVersion: 3 })
    assert.equal(join.errorCode, E.INCONSISTENT_GROUP_PROTOCOL.code)
    const cjoin = await classic.join({ groupId: 'classic', memberId: '', groupInstanceId: null, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], clientId: 'c', clientHost: 'h', apiVersion: 3 })
    assert.equal(cjoin.errorCode, 0)
    assert.equal((await cg.heartbeat(hb({ groupId: 'classic', memberId: 'x' }))).errorCode, E.GROUP_ID_NOT_FOUND.code)
    await classic.close()
  })

  it('commits with the member epoch, lists and describes consumer groups, deletes an empty one', async () => {
    const { cg, classic } = await setup()
    const a = await cg.heartbeat(hb({ memberId: 'a' }))
    const commit = (memberId: string, epoch: number) => classic.commitOffsets({ groupId: 'g', generationId: epoch, memberId, groupInstanceId: null, retentionTimeMs: -1, offsets: [{ topic: 'foo', partition: 0, offset: 42, leaderEpoch: -1, metadata: null }] })
    assert.deepEqual(await commit('a', a.memberEpoch), [0])
    assert.deepEqual(await commit('a', a.memberEpoch + 1), [E.STALE_MEMBER_EPOCH.code])
    assert.deepEqual(await commit('zz', a.memberEpoch), [E.UNKNOWN_MEMBER_ID.code])
    assert.deepEqual(await commit('', -1), [E.UNKNOWN_MEMBER_ID.code])
    assert.equal(classic.fetchOffsets('g', null)[0]!.offset, 42)
    assert.deepEqual(classic.list([], []).map((l) => [l.groupId, l.type, l.state]), [['g', 'consumer', 'Stable']])
    assert.deepEqual(classic.list([], ['classic']), [])
    const d = classic.describe('g')
    assert.equal(d.protocolType, 'consumer')
    assert.equal(d.members.length, 1)
    // subscribed topics' offsets cannot be deleted
    assert.equal((await classic.deleteOffsets('g', [{ topic: 'foo', partition: 0 }])).partitions[0], E.GROUP_SUBSCRIBED_TO_TOPIC.code)
    assert.deepEqual(await classic.deleteGroups(['g']), [E.NON_EMPTY_GROUP.code])
    await cg.heartbeat(hb({ memberId: 'a', memberEpoch: -1 }))
    assert.deepEqual(await commit('', -1), [0])
    assert.deepEqual(await classic.deleteGroups(['g']), [0])
    assert.equal(cg.group('g'), undefined)
    assert.deepEqual(classic.fetchOffsets('g', null), [])
    await classic.close()
  })
})

describe('consumer groups after a restart', () => {
  it('members, epochs, assignments and offsets come back from the records', async () => {
    const store = new MemoryGroupStore()
    const topics = new Topics()
    const first = await setup({}, store, topics)
    const a = await first.cg.heartbeat(hb({ memberId: 'a' }))
    await first.classic.commitOffsets({ groupId: 'g', generationId: a.memberEpoch, memberId: 'a', groupInstanceId: null, retentionTimeMs: -1, offsets: [{ topic: 'foo', partition: 1, offset: 7, leaderEpoch: -1, metadata: null }] })
    await first.classic.close()

    const second = await setup({}, store, topics)
    await second.classic.load()
    const g = second.cg.group('g')!
    assert.deepEqual(g.members.map((m) => [m.memberId, m.memberEpoch]), [['a', a.memberEpoch]])
    assert.equal(second.classic.fetchOffsets('g', [{ topic: 'foo', partitions: [1] }])[0]!.offset, 7)
    // the member heartbeats on with its epoch; the group moved to a new epoch and it follows
    const r = await second.cg.heartbeat(hb({ memberId: 'a', memberEpoch: a.memberEpoch, topicPartitions: owned(a) }))
    assert.equal(r.errorCode, 0)
    assert.ok(r.memberEpoch > a.memberEpoch)
    assert.deepEqual(parts(r), [0, 1, 2, 3])
    // a classic join is still refused
    const join = await second.classic.join({ groupId: 'g', memberId: '', groupInstanceId: null, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], clientId: 'c', clientHost: 'h', apiVersion: 3 })
    assert.equal(join.errorCode, E.INCONSISTENT_GROUP_PROTOCOL.code)
    await second.classic.close()
  })
})
