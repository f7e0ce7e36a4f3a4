// The classic group state machine, driven directly: join/sync/heartbeat/leave, session expiry,
// static membership, error codes, offsets and their durability through a replayed store.

import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { ErrorCode } from '../protocol/errors.js'
import { groupConfig, type GroupConfig } from './config.js'
import { GroupCoordinator, type JoinRequest, type JoinResult } from './group-coordinator.js'
import { MemoryGroupStore, encodeRecord, partitionFor } from './offsets-log.js'

const E = ErrorCode

// The coordinator's timer is unref'd (a broker's sockets keep it alive); so must the tests be.
const keepAlive = setInterval(() => {}, 1000)
after(() => clearInterval(keepAlive))

function config(over: Partial<GroupConfig> = {}): GroupConfig {
  return { ...groupConfig({ 'group.initial.rebalance.delay.ms': '0', 'group.min.session.timeout.ms': '10' }), ...over }
}

function open(over: Partial<GroupConfig> = {}, store = new MemoryGroupStore(3)) {
  const c = new GroupCoordinator(config(over), store)
  return { c, store }
}

/** ConsumerProtocolSubscription v0 with the given topics. */
function subscription(...topics: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0])]
  const n = Buffer.alloc(4)
  n.writeInt32BE(topics.length)
  parts.push(n)
  for (const t of topics) {
    const l = Buffer.alloc(2)
    l.writeInt16BE(t.length)
    parts.push(l, Buffer.from(t))
  }
  parts.push(Buffer.from([0xff, 0xff, 0xff, 0xff]))
  return Buffer.concat(parts)
}

function req(over: Partial<JoinRequest> = {}): JoinRequest {
  return {
    groupId: 'g',
    memberId: '',
    groupInstanceId: null,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 1_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: subscription('t') }],
    clientId: 'client',
    clientHost: '/127.0.0.1',
    apiVersion: 5,
    ...over,
  }
}

/** KIP-394 two-step join: MEMBER_ID_REQUIRED, then the join with that id. */
async function joinNew(c: GroupCoordinator, over: Partial<JoinRequest> = {}): Promise<JoinResult> {
  const first = await c.join(req(over))
  if (over.groupInstanceId) return first
  assert.equal(first.errorCode, E.MEMBER_ID_REQUIRED.code)
  assert.ok(first.memberId.startsWith('client-'))
  return c.join(req({ ...over, memberId: first.memberId }))
}

async function stableSingle(c: GroupCoordinator, over: Partial<JoinRequest> = {}) {
  const j = await joinNew(c, over)
  assert.equal(j.errorCode, 0)
  const s = await c.sync({ groupId: over.groupId ?? 'g', generationId: j.generationId, memberId: j.memberId, groupInstanceId: over.groupInstanceId ?? null, protocolType: null, protocolName: null, assignments: [{ memberId: j.memberId, assignment: Buffer.from('A') }] })
  assert.equal(s.errorCode, 0)
  assert.deepEqual(s.assignment, Buffer.from('A'))
  return j
}

describe('group coordinator: join, sync, heartbeat', () => {
  it('requires a member id on first join (v4+), then completes a generation with the member as leader', async () => {
    const { c } = open()
    await c.load()
    const j = await joinNew(c)
    assert.equal(j.errorCode, 0)
    assert.equal(j.generationId, 1)
    assert.equal(j.leader, j.memberId)
    assert.equal(j.protocolName, 'range')
    assert.equal(j.members.length, 1)
    assert.deepEqual(j.members[0]!.metadata, subscription('t'))
    assert.equal(c.groupState('g'), 'CompletingRebalance')
    assert.equal(c.heartbeat('g', 1, j.memberId, null), 0)
    const s = await c.sync({ groupId: 'g', generationId: 1, memberId: j.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: j.memberId, assignment: Buffer.from('x') }] })
    assert.equal(s.errorCode, 0)
    assert.equal(s.protocolName, 'range')
    assert.equal(c.groupState('g'), 'Stable')
    await c.close()
  })

  it('v0-3 joins without the member id round trip', async () => {
    const { c } = open()
    await c.load()
    const j = await c.join(req({ apiVersion: 3 }))
    assert.equal(j.errorCode, 0)
    assert.equal(j.generationId, 1)
    await c.close()
  })

  it('rebalances when a second member joins; followers wait for the leader\'s assignment', async () => {
    const { c } = open()
    await c.load()
    const a = await stableSingle(c)
    const bFirst = await c.join(req())
    const bJoin = c.join(req({ memberId: bFirst.memberId }))
    await sleep(5)
    assert.equal(c.groupState('g'), 'PreparingRebalance')
    assert.equal(c.heartbeat('g', 1, a.memberId, null), E.REBALANCE_IN_PROGRESS.code)
    const aJoin = await c.join(req({ memberId: a.memberId }))
    const b = await bJoin
    assert.equal(aJoin.generationId, 2)
    assert.equal(b.generationId, 2)
    assert.equal(aJoin.leader, a.memberId)
    assert.equal(aJoin.members.length, 2)
    assert.equal(b.members.length, 0)
    const bSync = c.sync({ groupId: 'g', generationId: 2, memberId: b.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] })
    let bDone = false
    void bSync.then(() => { bDone = true })
    await sleep(5)
    assert.equal(bDone, false, 'a follower waits for the leader')
    const aSync = await c.sync({ groupId: 'g', generationId: 2, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [{ memberId: a.memberId, assignment: Buffer.from('for-a') }, { memberId: b.memberId, assignment: Buffer.from('for-b') }] })
    assert.deepEqual(aSync.assignment, Buffer.from('for-a'))
    assert.deepEqual((await bSync).assignment, Buffer.from('for-b'))
    assert.equal(c.groupState('g'), 'Stable')
    await c.close()
  })

  it('answers heartbeats with UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION and the sync of a stale generation with ILLEGAL_GENERATION', async () => {
    const { c } = open()
    await c.load()
    const a = await stableSingle(c)
    assert.equal(c.heartbeat('nope', 1, a.memberId, null), E.UNKNOWN_MEMBER_ID.code)
    assert.equal(c.heartbeat('g', 1, 'someone-else', null), E.UNKNOWN_MEMBER_ID.code)
    assert.equal(c.heartbeat('g', 7, a.memberId, null), E.ILLEGAL_GENERATION.code)
    assert.equal(c.heartbeat('g', 1, a.memberId, null), 0)
    const s = await c.sync({ groupId: 'g', generationId: 0, memberId: a.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] })
    assert.equal(s.errorCode, E.ILLEGAL_GENERATION.code)
    const j = await c.join(req({ memberId: 'unknown-member' }))
    assert.equal(j.errorCode, E.UNKNOWN_MEMBER_ID.code)
    await c.close()
  })

  it('rejects bad session timeouts, empty group ids and protocols no member shares', async () => {
    const { c } = open({ minSessionTimeoutMs: 100 })
    await c.load()
    assert.equal((await c.join(req({ sessionTimeoutMs: 50 }))).errorCode, E.INVALID_SESSION_TIMEOUT.code)
    assert.equal((await c.join(req({ groupId: '' }))).errorCode, E.INVALID_GROUP_ID.code)
    await stableSingle(c)
    const other = await c.join(req({ protocols: [{ name: 'roundrobin', metadata: Buffer.alloc(0) }] }))
    assert.equal(other.errorCode, E.INCONSISTENT_GROUP_PROTOCOL.code)
    const otherType = await c.join(req({ protocolType: 'connect' }))
    assert.equal(otherType.errorCode, E.INCONSISTENT_GROUP_PROTOCOL.code)
    await c.close()
  })

  it('selects the protocol every member supports by votes', async () => {
    const { c } = open({ initialRebalanceDelayMs: 30 })
    await c.load()
    const p = (...names: string[]) => names.map((name) => ({ name, metadata: Buffer.from(name) }))
    const ids = await Promise.all([c.join(req()), c.join(req()), c.join(req())])
    const results = await Promise.all([
      c.join(req({ memberId: ids[0]!.memberId, protocols: p('range', 'roundrobin', 'sticky') })),
      c.join(req({ memberId: ids[1]!.memberId, protocols: p('sticky', 'roundrobin') })),
      c.join(req({ memberId: ids[2]!.memberId, protocols: p('sticky', 'roundrobin') })),
    ])
    for (const r of results) {
      assert.equal(r.errorCode, 0)
      assert.equal(r.generationId, 1, 'all three joined within the initial delay')
      assert.equal(r.protocolName, 'sticky')
    }
    const leader = results.find((r) => r.leader === r.memberId)!
    assert.ok(leader.members.every((m) => m.metadata.toString() === 'sticky'))
    await c.close()
  })

  it('waits group.initial.rebalance.delay.ms before the first generation', async () => {
    const { c } = open({ initialRebalanceDelayMs: 120 })
    await c.load()
    const started = Date.now()
    const j = await joinNew(c)
    assert.equal(j.errorCode, 0)
    assert.ok(Date.now() - started >= 100, `joined after ${Date.now() - started} ms`)
    await c.close()
  })
})

describe('group coordinator: leaving and expiry', () => {
  it('removes a member whose session expires and rebalances the rest', async () => {
    const { c } = open()
    await c.load()
    const a = await stableSingle(c, { sessionTimeoutMs: 150 })
    const bId = (await c.join(req({ sessionTimeoutMs: 5_000 }))).memberId
    const bJoin = c.join(req({ memberId: bId, sessionTimeoutMs: 5_000 }))
    // a never rejoins nor heartbeats: the join phase ends when a's session runs out
    const b = await bJoin
    assert.equal(b.errorCode, 0)
    assert.equal(b.generationId, 2)
    assert.equal(b.leader, b.memberId)
    assert.equal(b.members.length, 1)
    assert.equal(c.heartbeat('g', 2, a.memberId, null), E.UNKNOWN_MEMBER_ID.code)
    await c.close()
  })

  it('an expired last member leaves the group Empty, with a new generation', async () => {
    const { c } = open()
    await c.load()
    await stableSingle(c, { sessionTimeoutMs: 60 })
    await sleep(150)
    assert.equal(c.groupState('g'), 'Empty')
    assert.equal(c.generation('g'), 2)
    await c.close()
  })

  it('LeaveGroup removes members in a batch, answering UNKNOWN_MEMBER_ID per unknown member', async () => {
    const { c } = open()
    await c.load()
    const a = await stableSingle(c)
    const r = c.leave('g', [{ memberId: a.memberId, groupInstanceId: null }, { memberId: 'ghost', groupInstanceId: null }])
    assert.equal(r.errorCode, 0)
    assert.deepEqual(r.members.map((m) => m.errorCode), [0, E.UNKNOWN_MEMBER_ID.code])
    await sleep(5)
    assert.equal(c.groupState('g'), 'Empty')
    assert.equal(c.leave('none', [{ memberId: 'x', groupInstanceId: null }]).errorCode, E.UNKNOWN_MEMBER_ID.code)
    await c.close()
  })

  it('a member that does not sync in time is removed', async () => {
    const { c } = open()
    await c.load()
    const j = await joinNew(c, { rebalanceTimeoutMs: 80, sessionTimeoutMs: 10_000 })
    assert.equal(c.groupState('g'), 'CompletingRebalance')
    await sleep(200)
    assert.equal(c.groupState('g'), 'Empty')
    assert.equal(c.heartbeat('g', j.generationId, j.memberId, null), E.UNKNOWN_MEMBER_ID.code)
    await c.close()
  })
})

describe('group coordinator: static membership (KIP-345)', () => {
  it('a static member rejoining with an unknown member id takes its place without a rebalance', async () => {
    const { c } = open()
    await c.load()
    const first = await stableSingle(c, { groupInstanceId: 'instance-1' })
    assert.equal(first.generationId, 1)
    const again = await c.join(req({ groupInstanceId: 'instance-1' }))
    assert.equal(again.errorCode, 0)
    assert.notEqual(again.memberId, first.memberId)
    assert.equal(again.generationId, 1, 'no new generation')
    assert.equal(c.groupState('g'), 'Stable')
    assert.equal(again.leader, first.memberId, 'the old leader id keeps the replaced leader from assigning')
    assert.equal(c.heartbeat('g', 1, first.memberId, 'instance-1'), E.FENCED_INSTANCE_ID.code)
    assert.equal(c.heartbeat('g', 1, again.memberId, 'instance-1'), 0)
    const s = await c.sync({ groupId: 'g', generationId: 1, memberId: again.memberId, groupInstanceId: 'instance-1', protocolType: null, protocolName: null, assignments: [] })
    assert.deepEqual(s.assignment, Buffer.from('A'), 'the assignment carries over')
    const fencedCommit = await c.commitOffsets({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: 'instance-1', retentionTimeMs: -1, offsets: [{ topic: 't', partition: 0, offset: 1, leaderEpoch: -1, metadata: '' }] })
    assert.deepEqual(fencedCommit, [E.FENCED_INSTANCE_ID.code])
    await c.close()
  })

  it('v9 tells a replaced static leader to skip the assignment', async () => {
    const { c } = open()
    await c.load()
    await stableSingle(c, { groupInstanceId: 'i', apiVersion: 9 })
    const again = await c.join(req({ groupInstanceId: 'i', apiVersion: 9 }))
    assert.equal(again.skipAssignment, true)
    assert.equal(again.leader, again.memberId)
    assert.equal(again.members.length, 1)
    await c.close()
  })

  it('a static member with changed protocols triggers a rebalance; LeaveGroup by instance id checks the member id', async () => {
    const { c } = open()
    await c.load()
    const first = await stableSingle(c, { groupInstanceId: 'i' })
    // same subscription, but the member now prefers another assignor: the group's protocol changes
    const changed = await c.join(req({ groupInstanceId: 'i', protocols: [{ name: 'roundrobin', metadata: subscription('t') }, { name: 'range', metadata: subscription('t') }] }))
    assert.equal(changed.errorCode, 0)
    assert.equal(changed.generationId, 2)
    assert.equal(changed.protocolName, 'roundrobin')
    const fenced = c.leave('g', [{ memberId: first.memberId, groupInstanceId: 'i' }])
    assert.equal(fenced.members[0]!.errorCode, E.FENCED_INSTANCE_ID.code)
    const ok = c.leave('g', [{ memberId: '', groupInstanceId: 'i' }])
    assert.equal(ok.members[0]!.errorCode, 0)
    await sleep(5)
    assert.equal(c.groupState('g'), 'Empty')
    await c.close()
  })
})

describe('group coordinator: offsets', () => {
  const commit = (c: GroupCoordinator, over: { groupId?: string; generationId?: number; memberId?: string; offset?: number; topic?: string } = {}) =>
    c.commitOffsets({
      groupId: over.groupId ?? 'g',
      generationId: over.generationId ?? -1,
      memberId: over.memberId ?? '',
      groupInstanceId: null,
      retentionTimeMs: -1,
      offsets: [{ topic: over.topic ?? 't', partition: 0, offset: over.offset ?? 42, leaderEpoch: 3, metadata: 'meta' }],
    })

  it('accepts simple commits (generation -1) for unknown and empty groups, and checks members of live ones', async () => {
    const { c } = open()
    await c.load()
    assert.deepEqual(await commit(c, { groupId: 'simple' }), [0])
    assert.deepEqual(c.fetchOffsets('simple', [{ topic: 't', partitions: [0, 1] }]), [
      { topic: 't', partition: 0, offset: 42, leaderEpoch: 3, metadata: 'meta', errorCode: 0 },
      { topic: 't', partition: 1, offset: -1, leaderEpoch: -1, metadata: '', errorCode: 0 },
    ])
    assert.deepEqual(await commit(c, { groupId: 'unknown', generationId: 4, memberId: 'm' }), [E.ILLEGAL_GENERATION.code])
    const a = await stableSingle(c)
    assert.deepEqual(await commit(c), [E.UNKNOWN_MEMBER_ID.code], 'an outsider cannot commit for a live group')
    assert.deepEqual(await commit(c, { generationId: 9, memberId: a.memberId }), [E.ILLEGAL_GENERATION.code])
    assert.deepEqual(await commit(c, { generationId: 1, memberId: a.memberId, offset: 7 }), [0])
    assert.equal(c.fetchOffsets('g', null)[0]!.offset, 7)
    assert.deepEqual(c.fetchOffsets('nobody', null), [])
    await c.close()
  })

  it('rejects metadata over offset.metadata.max.bytes', async () => {
    const { c } = open({ offsetMetadataMaxBytes: 4 })
    await c.load()
    const codes = await c.commitOffsets({ groupId: 'g', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, offsets: [{ topic: 't', partition: 0, offset: 1, leaderEpoch: -1, metadata: 'too long' }, { topic: 't', partition: 1, offset: 1, leaderEpoch: -1, metadata: 'ok' }] })
    assert.deepEqual(codes, [E.OFFSET_METADATA_TOO_LARGE.code, 0])
    await c.close()
  })

  it('a failed write answers COORDINATOR_NOT_AVAILABLE and changes nothing', async () => {
    const { c, store } = open()
    await c.load()
    store.failNext = new Error('disk gone') as never
    assert.deepEqual(await commit(c), [E.COORDINATOR_NOT_AVAILABLE.code])
    assert.equal(c.fetchOffsets('g', [{ topic: 't', partitions: [0] }])[0]!.offset, -1)
    await c.close()
  })

  it('replays offsets and groups from the store: a group comes back with its members, generation and assignments', async () => {
    const store = new MemoryGroupStore(3)
    const { c } = open({}, store)
    await c.load()
    const a = await stableSingle(c)
    assert.deepEqual(await commit(c, { generationId: 1, memberId: a.memberId, offset: 100 }), [0])
    assert.deepEqual(await commit(c, { groupId: 'other', offset: 5 }), [0])
    assert.deepEqual(await commit(c, { groupId: 'other', offset: 6 }), [0])
    await c.close()

    const { c: again } = open({}, store)
    await again.load()
    assert.equal(again.groupState('g'), 'Stable')
    assert.equal(again.generation('g'), 1)
    assert.equal(again.fetchOffsets('g', null)[0]!.offset, 100)
    assert.equal(again.fetchOffsets('other', null)[0]!.offset, 6)
    assert.equal(again.heartbeat('g', 1, a.memberId, null), 0)
    assert.deepEqual(await commit(again, { generationId: 1, memberId: a.memberId, offset: 101 }), [0])
    const s = await again.sync({ groupId: 'g', generationId: 1, memberId: a.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] })
    assert.equal(s.errorCode, 0)
    assert.deepEqual(s.assignment, Buffer.from('A'))
    await again.close()
  })

  it('a group record of the old shape (members without sessions or assignments) loads Empty with its generation', async () => {
    const store = new MemoryGroupStore(3)
    const members = [{ memberId: 'old-member', groupInstanceId: null, clientId: 'c', clientHost: '/127.0.0.1' }]
    store.logs[partitionFor('g', 3)]!.push(encodeRecord({ type: 'group', group: 'g', value: { protocolType: 'consumer', generationId: 4, protocolName: 'range', leader: 'old-member', stateTimestamp: 1, members } }))
    const { c } = open({}, store)
    await c.load()
    assert.equal(c.groupState('g'), 'Empty')
    assert.equal(c.generation('g'), 4)
    assert.equal(c.heartbeat('g', 4, 'old-member', null), E.UNKNOWN_MEMBER_ID.code)
    // the old member joins as a new one and the generation moves on
    const j = await joinNew(c)
    assert.equal(j.generationId, 5)
    await c.close()
  })

  it('DeleteGroups: NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, and tombstones that survive a replay', async () => {
    const store = new MemoryGroupStore(3)
    const { c } = open({}, store)
    await c.load()
    await stableSingle(c)
    await commit(c, { groupId: 'empty' })
    assert.deepEqual(await c.deleteGroups(['g', 'missing', 'empty']), [E.NON_EMPTY_GROUP.code, E.GROUP_ID_NOT_FOUND.code, 0])
    assert.deepEqual(c.fetchOffsets('empty', null), [])
    assert.deepEqual(c.list().map((g) => g.groupId), ['g'])
    await c.close()
    const { c: again } = open({}, store)
    await again.load()
    assert.equal(again.groupState('empty'), undefined)
    await again.close()
  })

  it('OffsetDelete refuses topics a live consumer group subscribes to', async () => {
    const { c } = open()
    await c.load()
    const a = await stableSingle(c)
    await commit(c, { generationId: 1, memberId: a.memberId, topic: 't' })
    await commit(c, { generationId: 1, memberId: a.memberId, topic: 'old' })
    const r = await c.deleteOffsets('g', [{ topic: 't', partition: 0 }, { topic: 'old', partition: 0 }])
    assert.deepEqual(r, { errorCode: 0, partitions: [E.GROUP_SUBSCRIBED_TO_TOPIC.code, 0] })
    assert.deepEqual(c.fetchOffsets('g', null).map((o) => o.topic), ['t'])
    assert.equal((await c.deleteOffsets('missing', [])).errorCode, E.GROUP_ID_NOT_FOUND.code)
    await c.close()
  })

  it('expires offsets of Empty groups after the retention, then forgets the group', async () => {
    const { c } = open({ offsetsRetentionMs: 50 })
    await c.load()
    await commit(c, { groupId: 'simple' })
    await stableSingle(c)
    assert.equal(await c.expireOffsets(), 0)
    await sleep(60)
    assert.equal(await c.expireOffsets(), 1)
    assert.equal(c.groupState('simple'), undefined)
    assert.equal(c.groupState('g'), 'Stable', 'a live group stays')
    await c.close()
  })

  it('ListGroups filters by state and type', async () => {
    const { c } = open()
    await c.load()
    await stableSingle(c)
    await commit(c, { groupId: 'simple' })
    assert.deepEqual(c.list(['stable']).map((g) => g.groupId), ['g'])
    assert.deepEqual(c.list(['Empty']).map((g) => [g.groupId, g.protocolType]), [['simple', '']])
    assert.equal(c.list([], ['consumer']).length, 0)
    assert.equal(c.list([], ['Classic']).length, 2)
    const d = c.describe('g')
    assert.equal(d.state, 'Stable')
    assert.equal(d.protocolData, 'range')
    assert.deepEqual(d.members[0]!.assignment, Buffer.from('A'))
    assert.equal(c.describe('nope').state, 'Dead')
    await c.close()
  })
})

describe('group coordinator: deleted topics', () => {
  it('a deleted topic takes its committed offsets with it, durably', async () => {
    const store = new MemoryGroupStore(2)
    const c = new GroupCoordinator(config(), store)
    await c.load()
    await c.commitOffsets({ groupId: 'g', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, offsets: [{ topic: 'gone', partition: 0, offset: 1, leaderEpoch: -1, metadata: '' }, { topic: 'kept', partition: 0, offset: 2, leaderEpoch: -1, metadata: '' }] })
    await c.forgetTopic('gone')
    assert.deepEqual(c.fetchOffsets('g', null).map((o) => o.topic), ['kept'])
    await c.close()
    const again = new GroupCoordinator(config(), store)
    await again.load()
    assert.deepEqual(again.fetchOffsets('g', null).map((o) => o.topic), ['kept'])
    await again.close()
  })
})

describe('group coordinator: members survive a move of the coordinator', () => {
  const commitAs = (c: GroupCoordinator, memberId: string, generationId: number, offset: number) =>
    c.commitOffsets({ groupId: 'g', generationId, memberId, groupInstanceId: null, retentionTimeMs: -1, offsets: [{ topic: 't', partition: 0, offset, leaderEpoch: -1, metadata: '' }] })

  /** Two members, a (leader, long session) and b (session of bSessionMs), Stable in generation 2. */
  async function pair(c: GroupCoordinator, bSessionMs: number): Promise<{ a: string; b: string }> {
    const a = (await stableSingle(c, { sessionTimeoutMs: 10_000 })).memberId
    const bFirst = await c.join(req({ clientId: 'other', sessionTimeoutMs: bSessionMs }))
    const bJoin = c.join(req({ clientId: 'other', memberId: bFirst.memberId, sessionTimeoutMs: bSessionMs, protocols: [{ name: 'range', metadata: subscription('t', 'u') }] }))
    const aJoin = await c.join(req({ memberId: a, sessionTimeoutMs: 10_000 }))
    const bJoined = await bJoin
    assert.equal(aJoin.generationId, 2)
    assert.equal(aJoin.leader, a)
    const bSync = c.sync({ groupId: 'g', generationId: 2, memberId: bJoined.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] })
    const aSync = await c.sync({ groupId: 'g', generationId: 2, memberId: a, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [{ memberId: a, assignment: Buffer.from('for-a') }, { memberId: bJoined.memberId, assignment: Buffer.from('for-b') }] })
    assert.equal(aSync.errorCode, 0)
    assert.equal((await bSync).errorCode, 0)
    assert.equal(c.groupState('g'), 'Stable')
    return { a, b: bJoined.memberId }
  }

  it('a group of two members loaded by another coordinator: heartbeats, commits, syncs and joins with the old ids and generation work; a silent member expires after its session from the load', async () => {
    const store = new MemoryGroupStore(3)
    const partition = partitionFor('g', 3)
    const first = new GroupCoordinator(config(), store)
    await first.load()
    const { a, b } = await pair(first, 600)
    assert.deepEqual(await commitAs(first, a, 2, 10), [0])
    await sleep(400) // b is silent from here on; its session would end 200 ms from now on `first`
    first.resign(partition)
    await first.close()

    const second = new GroupCoordinator(config(), store)
    await second.becomeLeader(partition)
    assert.equal(second.groupState('g'), 'Stable')
    assert.equal(second.generation('g'), 2)
    const described = second.describe('g')
    assert.equal(described.protocolData, 'range')
    assert.deepEqual(
      described.members.map((m) => [m.memberId, m.clientId, m.assignment.toString()]).sort(),
      [[a, 'client', 'for-a'], [b, 'other', 'for-b']].sort(),
    )
    assert.deepEqual(described.members.find((m) => m.memberId === b)!.metadata, subscription('t', 'u'))
    assert.equal(second.heartbeat('g', 2, a, null), 0)
    assert.deepEqual(await commitAs(second, a, 2, 11), [0])
    assert.equal(second.fetchOffsets('g', null)[0]!.offset, 11)
    assert.equal(second.heartbeat('g', 1, a, null), E.ILLEGAL_GENERATION.code, 'the generation is checked as before')
    // a follower's retried join in a Stable group gets the current generation, no rebalance
    const aSync = await second.sync({ groupId: 'g', generationId: 2, memberId: a, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] })
    assert.deepEqual(aSync.assignment, Buffer.from('for-a'))

    // b's session started at the load: it is alive 300 ms later (700 ms after its last heartbeat)
    await sleep(300)
    assert.equal(second.heartbeat('g', 2, b, null), 0)
    assert.deepEqual(await commitAs(second, b, 2, 12), [0])
    // then b stops; a keeps heartbeating and learns of the rebalance once b's session ends
    let code = 0
    for (let i = 0; i < 30 && code === 0; i++) {
      await sleep(100)
      code = second.heartbeat('g', 2, a, null)
    }
    assert.equal(code, E.REBALANCE_IN_PROGRESS.code)
    assert.equal(second.heartbeat('g', 2, b, null), E.UNKNOWN_MEMBER_ID.code, 'b expired')
    const rejoined = await second.join(req({ memberId: a, sessionTimeoutMs: 10_000 }))
    assert.equal(rejoined.generationId, 3)
    assert.deepEqual(rejoined.members.map((m) => m.memberId), [a])
    await second.close()
  })

  it('a follower that rejoins the loaded group with its protocols gets the current generation; the leader rejoining starts a rebalance', async () => {
    const store = new MemoryGroupStore(3)
    const first = new GroupCoordinator(config(), store)
    await first.load()
    const { a, b } = await pair(first, 10_000)
    await first.close()
    const second = new GroupCoordinator(config(), store)
    await second.load()
    const bJoin = await second.join(req({ clientId: 'other', memberId: b, sessionTimeoutMs: 10_000, protocols: [{ name: 'range', metadata: subscription('t', 'u') }] }))
    assert.equal(bJoin.errorCode, 0)
    assert.equal(bJoin.generationId, 2)
    assert.equal(bJoin.leader, a)
    assert.equal(second.groupState('g'), 'Stable')
    const bSync = await second.sync({ groupId: 'g', generationId: 2, memberId: b, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] })
    assert.deepEqual(bSync.assignment, Buffer.from('for-b'))
    const aJoin = second.join(req({ memberId: a, sessionTimeoutMs: 10_000 }))
    await sleep(5)
    assert.equal(second.groupState('g'), 'PreparingRebalance')
    const bAgain = second.join(req({ clientId: 'other', memberId: b, sessionTimeoutMs: 10_000, protocols: [{ name: 'range', metadata: subscription('t', 'u') }] }))
    const [aj, bj] = await Promise.all([aJoin, bAgain])
    assert.equal(aj.generationId, 3)
    assert.equal(bj.generationId, 3)
    assert.equal(aj.members.length, 2)
    await second.close()
  })

  it('a static member is restored with its instance id: a restart of the member replaces it without a rebalance', async () => {
    const store = new MemoryGroupStore(3)
    const first = new GroupCoordinator(config(), store)
    await first.load()
    const old = await stableSingle(first, { groupInstanceId: 'instance-1' })
    await first.close()
    const second = new GroupCoordinator(config(), store)
    await second.load()
    assert.equal(second.heartbeat('g', 1, old.memberId, 'instance-1'), 0)
    const again = await second.join(req({ groupInstanceId: 'instance-1' }))
    assert.equal(again.errorCode, 0)
    assert.notEqual(again.memberId, old.memberId)
    assert.equal(again.generationId, 1, 'no new generation')
    assert.equal(second.groupState('g'), 'Stable')
    assert.equal(second.heartbeat('g', 1, old.memberId, 'instance-1'), E.FENCED_INSTANCE_ID.code)
    await second.close()
  })

  it('an Empty group stays Empty; a loaded group above group.max.size rebalances', async () => {
    const store = new MemoryGroupStore(3)
    const first = new GroupCoordinator(config(), store)
    await first.load()
    await pair(first, 10_000)
    assert.deepEqual(await first.commitOffsets({ groupId: 'empty', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, offsets: [{ topic: 't', partition: 0, offset: 1, leaderEpoch: -1, metadata: '' }] }), [0])
    await first.close()
    const second = new GroupCoordinator(config({ maxSize: 1 }), store)
    await second.load()
    assert.equal(second.groupState('g'), 'PreparingRebalance')
    assert.equal(second.groupState('empty'), 'Empty')
    await second.close()
  })
})
