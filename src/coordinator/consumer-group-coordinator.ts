// The coordinator of KIP-848 consumer groups (ConsumerGroupHeartbeat, ConsumerGroupDescribe),
// after Kafka's GroupMetadataManager.consumerGroupHeartbeat. One heartbeat does everything:
//
//   1. resolve the member (join with epoch 0, fenced when its epoch is wrong) and update it;
//   2. bump the group epoch when membership, subscriptions, the assignor or the subscribed
//      topics' partitions changed (topics are looked at on every heartbeat);
//   3. compute the target assignment with the group's assignor when the group epoch moved;
//   4. move the member one reconciliation step towards its target (consumer-group.ts).
//
// Members leave with epoch -1 (static members with -2: they keep their partitions until a new
// member with the same instance id takes over, or their session ends). Sessions end after
// group.consumer.session.timeout.ms without a heartbeat; a member that does not revoke within its
// rebalance timeout is fenced. Group ids and committed offsets are shared with the classic
// coordinator (group-coordinator.ts), which asks this one about consumer groups through
// ConsumerGroupsHook.
//
// Durability: the group epoch and every member (subscription, epoch, assignment) are records of
// __consumer_offsets (key versions 3 and 5, as in Kafka; JSON values), written before the member
// hears of a change. After a restart members come back with their epochs and assignments, their
// sessions restart, and the group epoch is bumped so the target assignment is computed again.

import { randomUUID } from 'node:crypto'
import { ErrorCode, KafkaError } from '../protocol/errors.js'
import { SERVER_ASSIGNORS, type Assignment, type ServerAssignor } from './consumer-group-assignor.js'
import {
  ConsumerGroup,
  LEAVE_GROUP_MEMBER_EPOCH,
  LEAVE_GROUP_STATIC_MEMBER_EPOCH,
  assignmentFromList,
  assignmentToList,
  isSubset,
  newMember,
  reconcile,
  sameAssignment,
  type ConsumerGroupMember,
  type ConsumerGroupState,
  type MemberState,
  type TopicPartitions,
} from './consumer-group.js'
import type { GroupCoordinator, GroupDescription, GroupListing, Logger } from './group-coordinator.js'
import { partitionFor, type GroupStore, type KeyValue } from './offsets-log.js'
import { DeadlineTimer } from './timers.js'

const E = ErrorCode
const NONE = 0

// ---- Settings --------------------------------------------------------------------------------

export interface ConsumerGroupConfig {
  /** group.consumer.heartbeat.interval.ms */
  heartbeatIntervalMs: number
  /** group.consumer.session.timeout.ms */
  sessionTimeoutMs: number
  /** group.consumer.max.size */
  maxSize: number
  /** group.consumer.assignors: the first is the default. */
  assignors: string[]
  /** offsets.retention.check.interval.ms: how often empty groups without offsets are removed. */
  cleanupIntervalMs: number
}

export const consumerGroupSettingDefs = [
  { name: 'group.consumer.heartbeat.interval.ms', default: '5000', doc: 'How often members of consumer-protocol (KIP-848) groups heartbeat.' },
  { name: 'group.consumer.session.timeout.ms', default: '45000', doc: 'A consumer-protocol member silent this long is removed from its group.' },
  { name: 'group.consumer.max.size', default: '2147483647', doc: 'Most members one consumer-protocol group may have.' },
  { name: 'group.consumer.assignors', default: 'uniform,range', doc: 'Server-side assignors (uniform, range); the first is the default.' },
] as const

export function consumerGroupConfig(settings: Record<string, string | undefined>): ConsumerGroupConfig {
  const get = (name: string): string => settings[name] ?? consumerGroupSettingDefs.find((d) => d.name === name)!.default
  const num = (name: string): number => {
    const raw = get(name)
    const v = Number(raw)
    if (!Number.isFinite(v) || raw.trim() === '') throw new Error(`setting ${name}=${raw} is not a number`)
    return v
  }
  const assignors = get('group.consumer.assignors')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    // Kafka's class names name the same assignors.
    .map((s) => (s.endsWith('UniformAssignor') ? 'uniform' : s.endsWith('RangeAssignor') ? 'range' : s))
  for (const a of assignors) if (!SERVER_ASSIGNORS.some((x) => x.name === a)) throw new Error(`setting group.consumer.assignors: unknown assignor ${a}`)
  if (assignors.length === 0) throw new Error('setting group.consumer.assignors is empty')
  const cfg = {
    heartbeatIntervalMs: num('group.consumer.heartbeat.interval.ms'),
    sessionTimeoutMs: num('group.consumer.session.timeout.ms'),
    maxSize: num('group.consumer.max.size'),
    assignors,
    cleanupIntervalMs: Number(settings['offsets.retention.check.interval.ms'] ?? 600000),
  }
  if (cfg.heartbeatIntervalMs >= cfg.sessionTimeoutMs) throw new Error('group.consumer.heartbeat.interval.ms must be below group.consumer.session.timeout.ms')
  return cfg
}

// ---- What the coordinator needs to know of topics ----------------------------------------------

export interface TopicView {
  name: string
  /** 32 hex digits */
  id: string
  partitions: number
  internal: boolean
}

export interface TopicSource {
  topic(name: string): TopicView | undefined
  topicById(id: string): TopicView | undefined
  allTopics(): Iterable<TopicView>
}

// ---- Requests and answers ---------------------------------------------------------------------

export interface ConsumerHeartbeatRequest {
  groupId: string
  memberId: string
  memberEpoch: number
  instanceId: string | null
  rackId: string | null
  rebalanceTimeoutMs: number
  subscribedTopicNames: string[] | null
  /** v1+; null: unchanged, '': none */
  subscribedTopicRegex: string | null
  serverAssignor: string | null
  topicPartitions: TopicPartitions[] | null
  clientId: string
  clientHost: string
  apiVersion: number
}

export interface ConsumerHeartbeatResult {
  errorCode: number
  errorMessage: string | null
  memberId: string | null
  memberEpoch: number
  heartbeatIntervalMs: number
  assignment: { topicPartitions: TopicPartitions[] } | null
}

export interface DescribedConsumerGroup {
  errorCode: number
  errorMessage: string | null
  groupId: string
  groupState: string
  groupEpoch: number
  assignmentEpoch: number
  assignorName: string
  members: {
    memberId: string
    instanceId: string | null
    rackId: string | null
    memberEpoch: number
    clientId: string
    clientHost: string
    subscribedTopicNames: string[]
    subscribedTopicRegex: string | null
    assignment: { topicPartitions: { topicId: string; topicName: string; partitions: number[] }[] }
    targetAssignment: { topicPartitions: { topicId: string; topicName: string; partitions: number[] }[] }
  }[]
}

function failure(errorCode: number, errorMessage: string | null = null): ConsumerHeartbeatResult {
  return { errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null }
}

class HeartbeatError extends Error {
  constructor(readonly errorCode: number, message: string) {
    super(message)
  }
}

// ---- Regular expressions -----------------------------------------------------------------------

const MAX_REGEX_LENGTH = 255
const MAX_UNBOUNDED_QUANTIFIERS = 3

/**
 * Compiles a subscription regex as a full match of the topic name (Kafka matches with RE2J). JS
 * regexes backtrack, so patterns that could take exponential (or high polynomial) time on a
 * 249-character topic name are refused: backreferences, lookaround (RE2 has neither), a
 * quantified group holding a quantifier or an alternation, more than three unbounded quantifiers,
 * or more than 255 characters.
 */
export function compileSubscriptionRegex(source: string): RegExp {
  if (source.length > MAX_REGEX_LENGTH) throw new HeartbeatError(E.INVALID_REQUEST.code, `SubscribedTopicRegex is longer than ${MAX_REGEX_LENGTH} characters.`)
  const refuse = (why: string) => new HeartbeatError(E.INVALID_REQUEST.code, `SubscribedTopicRegex ${source} is refused: ${why}.`)
  // group stack: whether the group holds a quantifier or an alternation
  const stack: { risky: boolean }[] = [{ risky: false }]
  let unbounded = 0
  let inClass = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === '\\') {
      const n = source[i + 1] ?? ''
      if (/[1-9k]/.test(n)) throw refuse('backreferences are not supported')
      i++
      continue
    }
    if (inClass) {
      if (c === ']') inClass = false
      continue
    }
    if (c === '[') inClass = true
    else if (c === '(') {
      if (source[i + 1] === '?' && /^[=!<]/.test(source.slice(i + 2)) && !/^<[A-Za-z]/.test(source.slice(i + 2))) throw refuse('lookaround is not supported')
      stack.push({ risky: false })
    } else if (c === ')') {
      const g = stack.pop()
      if (!g || stack.length === 0) throw refuse('unbalanced parentheses')
      const q = source[i + 1]
      if (q === '*' || q === '+' || q === '?' || q === '{') {
        if (g.risky) throw refuse('a quantified group holds a quantifier or an alternation (too costly to match)')
        stack[stack.length - 1]!.risky = true
      } else if (g.risky) stack[stack.length - 1]!.risky = true
    } else if (c === '|') stack[stack.length - 1]!.risky = true
    else if (c === '*' || c === '+' || c === '{' || c === '?') {
      if (c === '*' || c === '+' || (c === '{' && /^\{\d*,\}/.test(source.slice(i)))) unbounded++
      stack[stack.length - 1]!.risky = true
    }
  }
  if (unbounded > MAX_UNBOUNDED_QUANTIFIERS) throw refuse(`more than ${MAX_UNBOUNDED_QUANTIFIERS} unbounded quantifiers (too costly to match)`)
  try {
    return new RegExp(`^(?:${source})$`)
  } catch (err) {
    throw new HeartbeatError(E.INVALID_REQUEST.code, `SubscribedTopicRegex ${source} is not a valid regular expression: ${(err as Error).message}`)
  }
}

// ---- Records -----------------------------------------------------------------------------------

const GROUP_METADATA_KEY = 3
const MEMBER_METADATA_KEY = 5

interface GroupRecordValue {
  epoch: number
}

interface MemberRecordValue {
  instanceId: string | null
  rackId: string | null
  clientId: string
  clientHost: string
  rebalanceTimeoutMs: number
  subscribedTopicNames: string[]
  subscribedTopicRegex: string | null
  serverAssignor: string | null
  memberEpoch: number
  previousMemberEpoch: number
  state: MemberState
  assigned: TopicPartitions[]
  pendingRevocation: TopicPartitions[]
}

function key(version: number, ...strings: string[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(2)]
  parts[0]!.writeInt16BE(version)
  for (const s of strings) {
    const b = Buffer.from(s, 'utf8')
    const len = Buffer.alloc(2)
    len.writeInt16BE(b.length)
    parts.push(len, b)
  }
  return Buffer.concat(parts)
}

function parseKey(k: Buffer): { version: number; strings: string[] } | null {
  if (k.length < 2) return null
  const version = k.readInt16BE(0)
  if (version !== GROUP_METADATA_KEY && version !== MEMBER_METADATA_KEY) return null
  const strings: string[] = []
  let pos = 2
  while (pos + 2 <= k.length) {
    const n = k.readInt16BE(pos)
    pos += 2
    if (n < 0 || pos + n > k.length) return null
    strings.push(k.toString('utf8', pos, pos + n))
    pos += n
  }
  return { version, strings }
}

const groupRecord = (groupId: string, epoch: number | null): KeyValue => ({
  key: key(GROUP_METADATA_KEY, groupId),
  value: epoch === null ? null : Buffer.from(JSON.stringify({ epoch } satisfies GroupRecordValue)),
})

function memberValue(m: ConsumerGroupMember): MemberRecordValue {
  return {
    instanceId: m.instanceId,
    rackId: m.rackId,
    clientId: m.clientId,
    clientHost: m.clientHost,
    rebalanceTimeoutMs: m.rebalanceTimeoutMs,
    subscribedTopicNames: [...m.subscribedTopicNames],
    subscribedTopicRegex: m.subscribedTopicRegex,
    serverAssignor: m.serverAssignor,
    memberEpoch: m.memberEpoch,
    previousMemberEpoch: m.previousMemberEpoch,
    state: m.state,
    assigned: assignmentToList(m.assigned),
    pendingRevocation: assignmentToList(m.pendingRevocation),
  }
}

const memberRecord = (groupId: string, memberId: string, m: ConsumerGroupMember | null): KeyValue => ({
  key: key(MEMBER_METADATA_KEY, groupId, memberId),
  value: m === null ? null : Buffer.from(JSON.stringify(memberValue(m))),
})

function storeErrorCode(err: unknown): number {
  if (err instanceof KafkaError && err.code === E.NOT_LEADER_OR_FOLLOWER.code) return E.NOT_COORDINATOR.code
  return E.COORDINATOR_NOT_AVAILABLE.code
}

// ---- Encodings of the classic DescribeGroups answer ---------------------------------------------

function writeStr(parts: Buffer[], s: string): void {
  const b = Buffer.from(s, 'utf8')
  const len = Buffer.alloc(2)
  len.writeInt16BE(b.length)
  parts.push(len, b)
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}

/** ConsumerProtocolSubscription v0: topics, null user data. */
function encodeSubscription(topics: string[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(2), int32(topics.length)]
  for (const t of topics) writeStr(parts, t)
  parts.push(int32(-1))
  return Buffer.concat(parts)
}

/** ConsumerProtocolAssignment v0: topic partitions, null user data. */
function encodeAssignment(topics: { topicName: string; partitions: number[] }[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(2), int32(topics.length)]
  for (const t of topics) {
    writeStr(parts, t.topicName)
    parts.push(int32(t.partitions.length), ...t.partitions.map(int32))
  }
  parts.push(int32(-1))
  return Buffer.concat(parts)
}

// ---- The coordinator ------------------------------------------------------------------------------

const sessionKey = (g: string, m: string) => `cg-session\0${g}\0${m}`
const rebalanceKey = (g: string, m: string) => `cg-rebalance\0${g}\0${m}`

export class ConsumerGroupCoordinator {
  private readonly groups = new Map<string, ConsumerGroup>()
  private readonly timer: DeadlineTimer
  private readonly inflight = new Set<Promise<unknown>>()
  private readonly assignors: ServerAssignor[]
  private readonly regexes = new Map<string, RegExp>()
  private closed = false

  constructor(
    readonly config: ConsumerGroupConfig,
    private readonly store: GroupStore,
    private readonly topics: TopicSource,
    private readonly classic: GroupCoordinator,
    private readonly log?: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = new DeadlineTimer(now)
    this.assignors = config.assignors.map((n) => SERVER_ASSIGNORS.find((a) => a.name === n)!)
  }

  // ---- ConsumerGroupHeartbeat ----------------------------------------------------------------------

  async heartbeat(req: ConsumerHeartbeatRequest): Promise<ConsumerHeartbeatResult> {
    if (this.closed) return failure(E.NOT_COORDINATOR.code)
    let outcome: { result: ConsumerHeartbeatResult; records: KeyValue[] }
    try {
      this.validate(req)
      const owner = this.classic.coordinatorError(req.groupId)
      if (owner !== NONE) return failure(owner)
      outcome = req.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH || req.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH ? this.leave(req) : this.joinOrHeartbeat(req)
    } catch (err) {
      if (err instanceof HeartbeatError) return failure(err.errorCode, err.message)
      throw err
    }
    if (outcome.records.length > 0) {
      try {
        await this.write(req.groupId, outcome.records)
      } catch (err) {
        this.log?.warn({ err, group: req.groupId }, 'failed to write consumer group records')
        return failure(storeErrorCode(err))
      }
    }
    return outcome.result
  }

  private validate(req: ConsumerHeartbeatRequest): void {
    const invalid = (msg: string) => new HeartbeatError(E.INVALID_REQUEST.code, msg)
    if (req.groupId === '') throw invalid("GroupId can't be empty.")
    if (req.instanceId === '') throw invalid("InstanceId can't be empty.")
    if (req.rackId === '') throw invalid("RackId can't be empty.")
    const epoch = req.memberEpoch
    if (req.apiVersion >= 1 || epoch > 0 || epoch === LEAVE_GROUP_MEMBER_EPOCH) {
      if (req.memberId === '') throw invalid("MemberId can't be empty.")
    }
    if (epoch === 0) {
      if (req.rebalanceTimeoutMs === -1) throw invalid('RebalanceTimeoutMs must be provided in first request.')
      if (req.topicPartitions === null || req.topicPartitions.length > 0) throw invalid('TopicPartitions must be empty when (re-)joining.')
      if ((req.subscribedTopicNames === null || req.subscribedTopicNames.length === 0) && !req.subscribedTopicRegex) {
        throw invalid('SubscribedTopicNames or SubscribedTopicRegex must be set in first request.')
      }
    } else if (epoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      if (req.memberId === '') throw invalid("MemberId can't be empty.")
      if (req.instanceId === null) throw invalid("InstanceId can't be null.")
    } else if (epoch < 0 && epoch !== LEAVE_GROUP_MEMBER_EPOCH) {
      throw invalid('MemberEpoch is invalid.')
    }
    if (req.subscribedTopicRegex) this.regex(req.subscribedTopicRegex)
    if (req.serverAssignor !== null && !this.assignors.some((a) => a.name === req.serverAssignor)) {
      throw new HeartbeatError(E.UNSUPPORTED_ASSIGNOR.code, `ServerAssignor ${req.serverAssignor} is not supported. Supported assignors: ${this.config.assignors.join(', ')}.`)
    }
  }

  private regex(source: string): RegExp {
    let r = this.regexes.get(source)
    if (!r) {
      r = compileSubscriptionRegex(source)
      if (this.regexes.size > 1000) this.regexes.clear()
      this.regexes.set(source, r)
    }
    return r
  }

  private joinOrHeartbeat(req: ConsumerHeartbeatRequest): { result: ConsumerHeartbeatResult; records: KeyValue[] } {
    const now = this.now()
    const records: KeyValue[] = []
    const groupId = req.groupId
    let group = this.groups.get(groupId)
    let created = false
    if (!group) {
      if (req.memberEpoch !== 0) throw new HeartbeatError(E.GROUP_ID_NOT_FOUND.code, `Consumer group ${groupId} not found.`)
      // An empty classic group (offsets only, or no members left) becomes a consumer group.
      if (this.classic.classicGroupInUse(groupId)) throw new HeartbeatError(E.GROUP_ID_NOT_FOUND.code, `Group ${groupId} is not a consumer group.`)
      group = new ConsumerGroup(groupId)
      created = true
    }
    const memberId = req.memberId === '' ? randomUUID() : req.memberId
    if (group.members.size >= this.config.maxSize && !group.members.has(memberId)) {
      throw new HeartbeatError(E.GROUP_MAX_SIZE_REACHED.code, `The consumer group has reached its maximum capacity of ${this.config.maxSize} members.`)
    }

    // 1. Resolve the member.
    const { member, replaced } = this.resolveMember(group, memberId, req)
    const updated: ConsumerGroupMember = {
      ...member,
      instanceId: req.instanceId ?? member.instanceId,
      rackId: req.rackId ?? member.rackId,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs !== -1 ? req.rebalanceTimeoutMs : member.rebalanceTimeoutMs,
      serverAssignor: req.serverAssignor ?? member.serverAssignor,
      subscribedTopicNames: req.subscribedTopicNames ?? member.subscribedTopicNames,
      subscribedTopicRegex: req.subscribedTopicRegex === null ? member.subscribedTopicRegex : req.subscribedTopicRegex === '' ? null : req.subscribedTopicRegex,
      clientId: req.clientId,
      clientHost: req.clientHost,
    }
    const isNew = !group.members.has(memberId) && !replaced
    let bump =
      isNew ||
      !sameNames(member.subscribedTopicNames, updated.subscribedTopicNames) ||
      member.subscribedTopicRegex !== updated.subscribedTopicRegex ||
      member.serverAssignor !== updated.serverAssignor

    // From here on the group changes; nothing below throws.
    if (created) this.groups.set(groupId, group)
    const previous = group.members.get(memberId)
    if (replaced) {
      const target = group.targetAssignment.get(replaced.memberId)
      group.removeMember(replaced.memberId)
      if (target) group.targetAssignment.set(memberId, target)
      this.timer.cancel(sessionKey(groupId, replaced.memberId))
      this.timer.cancel(rebalanceKey(groupId, replaced.memberId))
      records.push(memberRecord(groupId, replaced.memberId, null))
      this.log?.info({ group: groupId, member: memberId, replaced: replaced.memberId, instanceId: req.instanceId }, 'static member rejoined')
    } else if (isNew) {
      this.log?.info({ group: groupId, member: memberId }, 'member joins the consumer group')
    }
    group.putMember(updated)

    // 2. Subscribed topics: a change of membership, subscriptions or partitions bumps the epoch.
    const signature = this.subscriptionSignature(group)
    if (signature !== group.subscriptionSignature) {
      group.subscriptionSignature = signature
      bump = true
    }
    if (bump) {
      group.groupEpoch++
      this.log?.info({ group: groupId, epoch: group.groupEpoch }, 'bumped the group epoch')
    }
    if (bump || created || group.epochUnpersisted) {
      records.push(groupRecord(groupId, group.groupEpoch))
      group.epochUnpersisted = false
    }

    // 3. A new target assignment for the new epoch.
    if (group.groupEpoch > group.assignmentEpoch) this.computeTargetAssignment(group)

    // 4. Reconcile the member with its target.
    const target = group.targetAssignment.get(memberId) ?? new Map()
    const reconciled = reconcile(updated, group.assignmentEpoch, target, (t, p) => group.currentPartitionEpoch(t, p), req.topicPartitions)
    if (reconciled !== updated) group.putMember(reconciled)
    if (!previous || JSON.stringify(memberValue(previous)) !== JSON.stringify(memberValue(reconciled))) {
      records.push(memberRecord(groupId, memberId, reconciled))
      if (reconciled.state === 'unrevoked_partitions') {
        const epoch = reconciled.memberEpoch
        this.timer.schedule(rebalanceKey(groupId, memberId), now + reconciled.rebalanceTimeoutMs, () => this.rebalanceTimeout(groupId, memberId, epoch))
      } else {
        this.timer.cancel(rebalanceKey(groupId, memberId))
      }
    }
    this.scheduleSession(groupId, memberId, now)

    const fullRequest = req.memberEpoch === 0 || (req.rebalanceTimeoutMs !== -1 && (req.subscribedTopicNames !== null || req.subscribedTopicRegex !== null) && req.topicPartitions !== null)
    const changed = !sameAssignment(member.assigned, reconciled.assigned)
    return {
      records,
      result: {
        errorCode: NONE,
        errorMessage: null,
        memberId,
        memberEpoch: reconciled.memberEpoch,
        heartbeatIntervalMs: this.config.heartbeatIntervalMs,
        assignment: fullRequest || changed ? { topicPartitions: assignmentToList(reconciled.assigned) } : null,
      },
    }
  }

  private resolveMember(group: ConsumerGroup, memberId: string, req: ConsumerHeartbeatRequest): { member: ConsumerGroupMember; replaced: ConsumerGroupMember | null } {
    const epoch = req.memberEpoch
    const existing = group.members.get(memberId)
    if (req.instanceId !== null) {
      const holder = group.staticMember(req.instanceId)
      if (epoch === 0) {
        if (holder && holder.memberId !== memberId) {
          if (holder.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
            throw new HeartbeatError(E.UNRELEASED_INSTANCE_ID.code, `Static member ${holder.memberId} with instance id ${req.instanceId} cannot be replaced because it is still in the group.`)
          }
          // The new member takes the departed static member's place and assignment.
          return { member: { ...holder, memberId, memberEpoch: 0, previousMemberEpoch: 0 }, replaced: holder }
        }
      } else {
        if (!holder) throw new HeartbeatError(E.UNKNOWN_MEMBER_ID.code, `Instance id ${req.instanceId} is unknown.`)
        if (holder.memberId !== memberId) throw new HeartbeatError(E.FENCED_INSTANCE_ID.code, `Static member ${memberId} with instance id ${req.instanceId} was fenced by member ${holder.memberId}.`)
      }
    }
    if (epoch === 0) {
      // A member (re)joins owning nothing: what the group thought it held is released.
      if (existing) return { member: { ...existing, memberEpoch: 0, previousMemberEpoch: existing.memberEpoch, state: 'stable', assigned: new Map(), pendingRevocation: new Map() }, replaced: null }
      return { member: newMember(memberId), replaced: null }
    }
    if (!existing) throw new HeartbeatError(E.UNKNOWN_MEMBER_ID.code, `Member ${memberId} is not a member of group ${group.groupId}.`)
    this.checkMemberEpoch(existing, epoch, req.topicPartitions)
    return { member: existing, replaced: null }
  }

  private checkMemberEpoch(member: ConsumerGroupMember, epoch: number, owned: TopicPartitions[] | null): void {
    if (epoch > member.memberEpoch) {
      throw new HeartbeatError(E.FENCED_MEMBER_EPOCH.code, `The consumer group member has a greater member epoch (${epoch}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`)
    }
    // The previous epoch is fine when the member owns a subset of its assignment: the answer that
    // moved it on may have been lost.
    if (epoch < member.memberEpoch && (epoch !== member.previousMemberEpoch || !isSubset(owned, member.assigned))) {
      throw new HeartbeatError(E.FENCED_MEMBER_EPOCH.code, `The consumer group member has a smaller member epoch (${epoch}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`)
    }
  }

  private leave(req: ConsumerHeartbeatRequest): { result: ConsumerHeartbeatResult; records: KeyValue[] } {
    const group = this.groups.get(req.groupId)
    if (!group) throw new HeartbeatError(E.GROUP_ID_NOT_FOUND.code, `Consumer group ${req.groupId} not found.`)
    let member: ConsumerGroupMember | undefined
    if (req.instanceId !== null) {
      member = group.staticMember(req.instanceId)
      if (!member) throw new HeartbeatError(E.UNKNOWN_MEMBER_ID.code, `Instance id ${req.instanceId} is unknown.`)
      if (member.memberId !== req.memberId) throw new HeartbeatError(E.FENCED_INSTANCE_ID.code, `Static member ${req.memberId} with instance id ${req.instanceId} was fenced by member ${member.memberId}.`)
    } else {
      member = group.members.get(req.memberId)
      if (!member) throw new HeartbeatError(E.UNKNOWN_MEMBER_ID.code, `Member ${req.memberId} is not a member of group ${req.groupId}.`)
    }
    const result = (memberEpoch: number): ConsumerHeartbeatResult => ({ errorCode: NONE, errorMessage: null, memberId: member!.memberId, memberEpoch, heartbeatIntervalMs: 0, assignment: null })
    if (req.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      // A static member leaves for a while: it keeps its partitions, the epoch stays.
      const departed = { ...member, memberEpoch: LEAVE_GROUP_STATIC_MEMBER_EPOCH }
      group.putMember(departed)
      this.timer.cancel(rebalanceKey(group.groupId, member.memberId))
      this.log?.info({ group: group.groupId, member: member.memberId, instanceId: member.instanceId }, 'static member left temporarily')
      return { result: result(LEAVE_GROUP_STATIC_MEMBER_EPOCH), records: [memberRecord(group.groupId, member.memberId, departed)] }
    }
    this.log?.info({ group: group.groupId, member: member.memberId }, 'member left the consumer group')
    return { result: result(LEAVE_GROUP_MEMBER_EPOCH), records: this.removeMember(group, member.memberId) }
  }

  /** Removes a member and bumps the group epoch; returns the records to write. */
  private removeMember(group: ConsumerGroup, memberId: string): KeyValue[] {
    group.removeMember(memberId)
    this.timer.cancel(sessionKey(group.groupId, memberId))
    this.timer.cancel(rebalanceKey(group.groupId, memberId))
    group.groupEpoch++
    group.epochUnpersisted = false
    return [memberRecord(group.groupId, memberId, null), groupRecord(group.groupId, group.groupEpoch)]
  }

  private fence(groupId: string, memberId: string, reason: string): void {
    const group = this.groups.get(groupId)
    if (!group || !group.members.has(memberId) || this.closed) return
    this.log?.info({ group: groupId, member: memberId, reason }, 'member fenced')
    const records = this.removeMember(group, memberId)
    this.write(groupId, records).catch((err: unknown) => this.log?.warn({ err, group: groupId }, 'failed to write the removal of a fenced member'))
  }

  private scheduleSession(groupId: string, memberId: string, now: number): void {
    this.timer.schedule(sessionKey(groupId, memberId), now + this.config.sessionTimeoutMs, () => this.fence(groupId, memberId, 'session timed out'))
  }

  private rebalanceTimeout(groupId: string, memberId: string, epoch: number): void {
    const m = this.groups.get(groupId)?.members.get(memberId)
    if (m && m.memberEpoch === epoch && m.state === 'unrevoked_partitions') this.fence(groupId, memberId, 'did not revoke its partitions within the rebalance timeout')
  }

  // ---- Subscriptions and the target assignment -------------------------------------------------------

  /** Names of the existing topics a member subscribes to (by name or regex, internal topics excluded from regexes). */
  private memberTopics(m: ConsumerGroupMember): Set<string> {
    const out = new Set<string>()
    for (const name of m.subscribedTopicNames) if (this.topics.topic(name)) out.add(name)
    if (m.subscribedTopicRegex !== null) {
      let r: RegExp
      try {
        r = this.regex(m.subscribedTopicRegex)
      } catch {
        return out
      }
      for (const t of this.topics.allTopics()) if (!t.internal && r.test(t.name)) out.add(t.name)
    }
    return out
  }

  private subscriptionSignature(group: ConsumerGroup): string {
    const names = new Set<string>()
    for (const m of group.members.values()) for (const n of this.memberTopics(m)) names.add(n)
    return [...names]
      .sort()
      .map((n) => {
        const t = this.topics.topic(n)!
        return `${n}:${t.id}:${t.partitions}`
      })
      .join(',')
  }

  private assignorOf(group: ConsumerGroup): ServerAssignor {
    const name = group.preferredAssignor(this.assignors[0]!.name, this.config.assignors)
    return this.assignors.find((a) => a.name === name) ?? this.assignors[0]!
  }

  private computeTargetAssignment(group: ConsumerGroup): void {
    const partitionCounts = new Map<string, number>()
    const members = [...group.members.values()].map((m) => {
      const ids = new Set<string>()
      for (const name of this.memberTopics(m)) {
        const t = this.topics.topic(name)!
        ids.add(t.id)
        partitionCounts.set(t.id, t.partitions)
      }
      return { memberId: m.memberId, topics: ids, current: group.targetAssignment.get(m.memberId) ?? new Map() }
    })
    const assignor = this.assignorOf(group)
    group.targetAssignment = assignor.assign({ members, partitionCounts })
    group.assignmentEpoch = group.groupEpoch
    this.log?.info({ group: group.groupId, epoch: group.groupEpoch, assignor: assignor.name, members: members.length }, 'computed a new target assignment')
  }

  // ---- ConsumerGroupDescribe ---------------------------------------------------------------------------

  describeGroups(groupIds: string[]): DescribedConsumerGroup[] {
    return groupIds.map((groupId) => {
      const group = this.groups.get(groupId)
      const empty = { groupId, groupState: 'Dead', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [] }
      const owner = this.classic.coordinatorError(groupId)
      if (owner !== NONE) return { ...empty, errorCode: owner, errorMessage: null }
      if (!group) {
        const classic = this.classic.describe(groupId)
        const message = classic.state === 'Dead' ? `Group ${groupId} not found.` : `Group ${groupId} is not a consumer group.`
        return { ...empty, errorCode: E.GROUP_ID_NOT_FOUND.code, errorMessage: message }
      }
      const named = (a: Assignment) =>
        assignmentToList(a).flatMap((tp) => {
          const t = this.topics.topicById(tp.topicId)
          return t ? [{ topicId: tp.topicId, topicName: t.name, partitions: tp.partitions }] : []
        })
      return {
        errorCode: NONE,
        errorMessage: null,
        groupId,
        groupState: group.state,
        groupEpoch: group.groupEpoch,
        assignmentEpoch: group.assignmentEpoch,
        assignorName: this.assignorOf(group).name,
        members: [...group.members.values()].map((m) => ({
          memberId: m.memberId,
          instanceId: m.instanceId,
          rackId: m.rackId,
          memberEpoch: m.memberEpoch,
          clientId: m.clientId,
          clientHost: m.clientHost,
          subscribedTopicNames: [...m.subscribedTopicNames],
          subscribedTopicRegex: m.subscribedTopicRegex,
          assignment: { topicPartitions: named(m.assigned) },
          targetAssignment: { topicPartitions: named(group.targetAssignment.get(m.memberId) ?? new Map()) },
        })),
      }
    })
  }

  // ---- What the classic coordinator asks (ConsumerGroupsHook) -------------------------------------------

  isConsumerGroup(groupId: string): boolean {
    return this.groups.has(groupId)
  }

  /** A classic JoinGroup: refused for a consumer group with members; an empty one becomes classic. */
  classicJoin(groupId: string): number {
    const group = this.groups.get(groupId)
    if (!group) return NONE
    if (group.members.size > 0) return E.INCONSISTENT_GROUP_PROTOCOL.code
    this.groups.delete(groupId)
    this.log?.info({ group: groupId }, 'empty consumer group converted to a classic group')
    this.write(groupId, [groupRecord(groupId, null)]).catch((err: unknown) => this.log?.warn({ err, group: groupId }, 'failed to remove a converted consumer group'))
    return NONE
  }

  /** OffsetCommit by a member (memberEpoch in generationIdOrMemberEpoch); undefined for other groups. */
  validateCommit(groupId: string, memberId: string, memberEpoch: number): number | undefined {
    const group = this.groups.get(groupId)
    if (!group) return undefined
    // Commits from outside the group (admin tools, assign() users) only while it has no members.
    if (memberEpoch < 0 && group.members.size === 0) return NONE
    const member = group.members.get(memberId)
    if (!member) return E.UNKNOWN_MEMBER_ID.code
    if (memberEpoch !== member.memberEpoch) return E.STALE_MEMBER_EPOCH.code
    return NONE
  }

  /** Names of the topics the group subscribes to; undefined for other groups. */
  subscribedTopics(groupId: string): Set<string> | undefined {
    const group = this.groups.get(groupId)
    if (!group) return undefined
    const out = new Set<string>()
    for (const m of group.members.values()) {
      for (const n of m.subscribedTopicNames) out.add(n)
      for (const n of this.memberTopics(m)) out.add(n)
    }
    return out
  }

  /** DeleteGroups: undefined for other groups, NON_EMPTY_GROUP while members remain. */
  async deleteGroup(groupId: string): Promise<number | undefined> {
    const group = this.groups.get(groupId)
    if (!group) return undefined
    if (group.members.size > 0) return E.NON_EMPTY_GROUP.code
    try {
      await this.write(groupId, [groupRecord(groupId, null)])
    } catch (err) {
      return storeErrorCode(err)
    }
    if (this.groups.get(groupId) === group && group.members.size === 0) this.groups.delete(groupId)
    return NONE
  }

  /** The classic DescribeGroups view of a consumer group: protocol type "consumer", the assignor as protocol. */
  describeClassic(groupId: string): GroupDescription | undefined {
    const group = this.groups.get(groupId)
    if (!group) return undefined
    const [d] = this.describeGroups([groupId])
    return {
      errorCode: NONE,
      groupId,
      state: group.state,
      protocolType: 'consumer',
      protocolData: d!.assignorName,
      members: d!.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.instanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: encodeSubscription([...this.memberTopics(group.members.get(m.memberId)!)].sort()),
        assignment: encodeAssignment(m.assignment.topicPartitions),
      })),
    }
  }

  list(statesFilter: Set<string>): GroupListing[] {
    const out: GroupListing[] = []
    for (const g of this.groups.values()) {
      if (statesFilter.size > 0 && !statesFilter.has(g.state.toLowerCase())) continue
      out.push({ groupId: g.groupId, protocolType: 'consumer', state: g.state, type: 'consumer' })
    }
    return out
  }

  // ---- Durability ------------------------------------------------------------------------------------------

  /** A fresh map for the consumer groups of a partition being loaded (replayInto, then install). */
  beginLoad(): Map<string, ConsumerGroup> {
    return new Map()
  }

  /** A record of __consumer_offsets the classic coordinator does not know (replayed in order) into a partition's map. */
  replayInto(groups: Map<string, ConsumerGroup>, k: Buffer, value: Buffer | null): void {
    const parsed = parseKey(k)
    if (!parsed) return
    const [groupId, memberId] = parsed.strings
    if (groupId === undefined) return
    if (parsed.version === GROUP_METADATA_KEY) {
      if (value === null) {
        groups.delete(groupId)
        return
      }
      const v = JSON.parse(value.toString('utf8')) as GroupRecordValue
      let g = groups.get(groupId)
      if (!g) groups.set(groupId, (g = new ConsumerGroup(groupId)))
      g.groupEpoch = v.epoch
      return
    }
    if (memberId === undefined) return
    const g = groups.get(groupId)
    if (value === null) {
      g?.removeMember(memberId)
      return
    }
    if (!g) return
    const v = JSON.parse(value.toString('utf8')) as MemberRecordValue
    g.putMember({
      memberId,
      instanceId: v.instanceId,
      rackId: v.rackId,
      clientId: v.clientId,
      clientHost: v.clientHost,
      rebalanceTimeoutMs: v.rebalanceTimeoutMs,
      subscribedTopicNames: v.subscribedTopicNames,
      subscribedTopicRegex: v.subscribedTopicRegex,
      serverAssignor: v.serverAssignor,
      memberEpoch: v.memberEpoch,
      previousMemberEpoch: v.previousMemberEpoch,
      state: v.state,
      assigned: assignmentFromList(v.assigned),
      pendingRevocation: assignmentFromList(v.pendingRevocation),
    })
  }

  /**
   * After the replay of partition `partition`: its groups are served from now on. Members'
   * sessions start now; the target assignment is not stored, so the group epoch moves on and the
   * next heartbeat computes it again (sticky, from what members hold).
   */
  install(partition: number, groups: Map<string, ConsumerGroup>): void {
    const now = this.now()
    let members = 0
    for (const g of groups.values()) {
      const stale = this.groups.get(g.groupId)
      if (stale) this.dropGroup(stale)
      this.groups.set(g.groupId, g)
      g.assignmentEpoch = g.groupEpoch
      if (g.members.size === 0) continue
      for (const m of g.members.values()) {
        g.targetAssignment.set(m.memberId, m.assigned)
        this.scheduleSession(g.groupId, m.memberId, now)
        members++
      }
      g.groupEpoch++
      g.epochUnpersisted = true
    }
    if (groups.size > 0) this.log?.info({ partition, groups: groups.size, members }, 'consumer groups loaded')
    if (!this.timer.has('cg-cleanup')) this.scheduleCleanup()
  }

  /** The partition moved away: its consumer groups are dropped with their timers (the next leader replays them). */
  resign(partition: number): void {
    for (const g of [...this.groups.values()]) if (partitionFor(g.groupId, this.store.partitions) === partition) this.dropGroup(g)
  }

  private dropGroup(g: ConsumerGroup): void {
    for (const memberId of g.members.keys()) {
      this.timer.cancel(sessionKey(g.groupId, memberId))
      this.timer.cancel(rebalanceKey(g.groupId, memberId))
    }
    if (this.groups.get(g.groupId) === g) this.groups.delete(g.groupId)
  }

  /** Empty consumer groups without committed offsets are removed (Kafka's group metadata cleanup). */
  private scheduleCleanup(): void {
    this.timer.schedule('cg-cleanup', this.now() + this.config.cleanupIntervalMs, () => {
      for (const g of [...this.groups.values()]) {
        if (g.members.size === 0 && this.classic.fetchOffsets(g.groupId, null).length === 0) {
          this.deleteGroup(g.groupId).catch((err: unknown) => this.log?.warn({ err, group: g.groupId }, 'failed to remove an empty consumer group'))
        }
      }
      this.scheduleCleanup()
    })
  }

  private write(groupId: string, records: KeyValue[]): Promise<void> {
    const p = this.store.append(partitionFor(groupId, this.store.partitions), records)
    this.inflight.add(p)
    const done = () => this.inflight.delete(p)
    p.then(done, done)
    return p
  }

  async close(): Promise<void> {
    this.closed = true
    this.timer.close()
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight])
  }

  // ---- For tests -----------------------------------------------------------------------------------------

  group(groupId: string): { state: ConsumerGroupState; groupEpoch: number; assignmentEpoch: number; members: ConsumerGroupMember[] } | undefined {
    const g = this.groups.get(groupId)
    return g && { state: g.state, groupEpoch: g.groupEpoch, assignmentEpoch: g.assignmentEpoch, members: [...g.members.values()] }
  }

  /** Runs a session expiry now (tests with a fake clock). */
  expireSession(groupId: string, memberId: string): void {
    this.fence(groupId, memberId, 'session timed out')
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  const s = new Set(a)
  return b.every((x) => s.has(x))
}
