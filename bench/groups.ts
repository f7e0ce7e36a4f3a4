// Consumer-group figures for `npm run bench` (the `groups` key of the report): how long the
// partitions of a SIGKILLed member stay unconsumed, and how long a 50-member group takes to
// rebalance, first from nothing and then when one more member joins. Load and members come from
// `rdkafka-driver group-consume` / `produce --rate` (librdkafka); see bench/README.md.

import { spawn, type ChildProcess } from 'node:child_process'
import { EventProc } from './event-proc.js'

type Json = Record<string, unknown>

export interface GroupsRunning {
  bootstrap: string
  stop(): Promise<void>
}

export interface GroupsContext {
  driverPath: string
  /** Starts a fresh Fjord broker with these `--set key=value` settings. */
  startFjord(set: string[]): Promise<GroupsRunning>
  /** Starts librdkafka's mock cluster with these topics already created. */
  startMock(topics: { name: string; partitions: number }[]): Promise<GroupsRunning>
  /** CreateTopics through the driver (Fjord). */
  createTopics(bootstrap: string, topics: { name: string; partitions: number }[]): Promise<Json>
  track(child: ChildProcess): void
  untrack(child: ChildProcess): void
  log(msg: string): void
  targets: string[]
  failoverRuns: number
}

export const groupSettings = {
  session_timeout_ms: 6000,
  heartbeat_interval_ms: 3000, // librdkafka's default, left alone
  auto_commit_interval_ms: 1000,
  assignor: 'range,roundrobin (librdkafka default: eager, stop-the-world)',
  failover_partitions: 6,
  failover_produce_records_per_s: 600,
  failover_record_bytes: 1024,
  rebalance_members: 50,
  rebalance_partitions: 200,
}

const FAILOVER_TOPIC = 'groups-failover'
const REBALANCE_TOPIC = 'groups-rebalance'

const round = (v: number, d = 3): number => Math.round(v * 10 ** d) / 10 ** d
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
/** CLOCK_MONOTONIC in seconds: the clock of the driver's `t` fields (libuv uses it too). */
const mono = (): number => Number(process.hrtime.bigint()) / 1e9
const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b)
  const n = s.length
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2
}

interface Ev {
  ev: string
  m?: number
  t: number
  p?: number | number[]
  o?: number
  n?: number
  state?: string
  members?: number
  error?: string
}


/** Each member's current assignment (eager protocol: a revoke empties it), from its events. */
function assignments(events: Ev[], upTo = events.length): Map<number, number[]> {
  const a = new Map<number, number[]>()
  for (let i = 0; i < upTo; i++) {
    const e = events[i]!
    if (e.ev === 'subscribed') a.set(e.m!, [])
    else if (e.ev === 'assigned') a.set(e.m!, e.p as number[])
    else if (e.ev === 'revoked') a.set(e.m!, [])
  }
  return a
}

/** Every one of `members` members holds partitions, and together exactly 0..partitions-1 once. */
function covered(a: Map<number, number[]>, members: number, partitions: number): boolean {
  if (a.size < members) return false
  const seen = new Set<number>()
  let sum = 0
  for (const ps of a.values()) {
    if (ps.length === 0) return false
    sum += ps.length
    for (const p of ps) seen.add(p)
  }
  return sum === partitions && seen.size === partitions
}

/** The index of the first event after which the group is covered (searching from `from`). */
function coveredAt(events: Ev[], members: number, partitions: number, from: number): number {
  for (let i = from; i < events.length; i++) {
    if (events[i]!.ev === 'assigned' && covered(assignments(events, i + 1), members, partitions)) return i
  }
  return -1
}

// ---------------------------------------------------------------- failover

function member(ctx: GroupsContext, bootstrap: string, group: string): EventProc<Ev> {
  return new EventProc<Ev>(ctx, 'group-consume', {
    bootstrap,
    topic: FAILOVER_TOPIC,
    group,
    members: 1,
    seconds: 120,
    'session-timeout-ms': groupSettings.session_timeout_ms,
    'commit-interval-ms': groupSettings.auto_commit_interval_ms,
  })
}

/** Latest assignment of a one-member process, and whether each of its partitions delivered since. */
function steady(p: EventProc<Ev>): { parts: number[]; consuming: boolean } {
  let at = -1
  for (let i = p.events.length - 1; i >= 0; i--) {
    const e = p.events[i]!
    if (e.ev === 'assigned' || e.ev === 'revoked') {
      at = e.ev === 'assigned' ? i : -1
      break
    }
  }
  if (at < 0) return { parts: [], consuming: false }
  const parts = p.events[at]!.p as number[]
  const firsts = new Set(p.events.slice(at + 1).filter((e) => e.ev === 'first').map((e) => e.p as number))
  return { parts, consuming: parts.length > 0 && parts.every((x) => firsts.has(x)) }
}

/**
 * `runs` pairs of members (one group each, all started together so the joins are paid once) on a
 * 6-partition topic under a steady producer. Run by run: wait 0.5-3.5 s (random, so the kill lands at
 * a random point of the heartbeat cycle), SIGKILL one member, time until every partition it had
 * delivers a record to the survivor.
 */
async function failover(ctx: GroupsContext, bootstrap: string, runs: number, label: string): Promise<Json> {
  const P = groupSettings.failover_partitions
  const producer = new EventProc<Ev>(ctx, 'produce', {
    bootstrap,
    topic: FAILOVER_TOPIC,
    partitions: P,
    size: groupSettings.failover_record_bytes,
    rate: groupSettings.failover_produce_records_per_s,
    seconds: 600,
    'linger-ms': 5,
  })
  const pairs: { a: EventProc<Ev>; b: EventProc<Ev>; group: string }[] = []
  try {
    const stamp = Date.now().toString(36)
    for (let i = 0; i < runs; i++) {
      const group = `bench-failover-${stamp}-${i}`
      pairs.push({ group, a: member(ctx, bootstrap, group), b: member(ctx, bootstrap, group) })
    }
    const t0 = mono()
    for (const { a, b, group } of pairs) {
      const ready = (): boolean => {
        const x = steady(a)
        const y = steady(b)
        return x.consuming && y.consuming && new Set([...x.parts, ...y.parts]).size === P && x.parts.length + y.parts.length === P
      }
      const deadline = mono() + 60
      while (!ready()) {
        if (a.exited || b.exited) throw new Error(`${group}: a member exited; ${a.describe()} / ${b.describe()}`)
        if (mono() > deadline) throw new Error(`${group}: both members consuming: not within 60 s; ${a.describe()} / ${b.describe()}`)
        await sleep(20)
      }
    }
    const setupSeconds = mono() - t0
    const results: Json[] = []
    for (const [i, { a, b, group }] of pairs.entries()) {
      await sleep(500 + Math.random() * 3000)
      const owned = steady(b).parts
      const survivorOwned = steady(a).parts
      const tKill = mono()
      b.kill('SIGKILL')
      ctx.log(`${label}: run ${i + 1}/${runs}: SIGKILL a member of ${group} holding partitions ${owned.join(',')}`)
      const after = (): Ev[] => a.events.filter((e) => e.t > tKill)
      const firstAfter = (p: number): Ev | undefined => after().find((e) => e.ev === 'first' && e.p === p)
      await a.until(`${group}: survivor consumes partitions ${owned.join(',')}`, () => owned.every((p) => firstAfter(p) !== undefined), 45000)
      // the survivor's own partitions come back in the same new assignment; give them a moment
      await a
        .until('survivor partitions', () => survivorOwned.every((p) => firstAfter(p) !== undefined), 3000)
        .catch(() => undefined)
      const perPartition: Json = {}
      for (const p of owned) perPartition[p] = round(firstAfter(p)!.t - tKill)
      const revoked = after().find((e) => e.ev === 'revoked')
      const assigned = after().find((e) => e.ev === 'assigned' && owned.every((p) => (e.p as number[]).includes(p)))
      const last = Math.max(...owned.map((p) => firstAfter(p)!.t))
      const survivorBack = survivorOwned.map((p) => firstAfter(p)?.t).filter((t): t is number => t !== undefined)
      results.push({
        failover_s: round(last - tKill),
        survivor_revoked_s: revoked ? round(revoked.t - tKill) : null,
        survivor_assigned_s: assigned ? round(assigned.t - tKill) : null,
        killed_member_partitions: owned,
        first_record_s_by_partition: perPartition,
        // eager rebalancing also stops the survivor's own partitions until the new assignment
        survivor_own_partitions_paused_s:
          revoked && survivorBack.length === survivorOwned.length ? round(Math.max(...survivorBack) - revoked.t) : null,
      })
      a.kill('SIGKILL')
    }
    const f = results.map((r) => r.failover_s as number)
    return {
      median_s: round(median(f)),
      min_s: round(Math.min(...f)),
      max_s: round(Math.max(...f)),
      runs: results,
      setup_seconds: round(setupSeconds, 2),
      measured:
        'SIGKILL of one of two members -> the survivor has received a record from every partition the killed member held (its first record of that partition after the kill)',
    }
  } finally {
    producer.kill('SIGKILL')
    for (const { a, b } of pairs) {
      a.kill('SIGKILL')
      b.kill('SIGKILL')
    }
  }
}

// ---------------------------------------------------------------- rebalance of 50 (+1) members

async function rebalance(ctx: GroupsContext, bootstrap: string, initialDelayMs: number | string): Promise<Json> {
  const M = groupSettings.rebalance_members
  const P = groupSettings.rebalance_partitions
  const proc = new EventProc<Ev>(ctx, 'group-consume', {
    bootstrap,
    topic: REBALANCE_TOPIC,
    group: `bench-rebalance-${Date.now().toString(36)}`,
    members: M,
    seconds: 180,
    'session-timeout-ms': groupSettings.session_timeout_ms,
    'commit-interval-ms': groupSettings.auto_commit_interval_ms,
  })
  try {
    const ev = proc.events
    const describe = async (): Promise<Json> => {
      const n = ev.filter((e) => e.ev === 'describe').length
      proc.send('describe')
      try {
        await proc.until('describe', () => ev.filter((e) => e.ev === 'describe').length > n, 10000)
      } catch (e) {
        return { error: (e as Error).message.slice(0, 300) }
      }
      const d = ev.filter((e) => e.ev === 'describe')[n]!
      return d.error ? { error: d.error } : { state: d.state, members: d.members }
    }
    // 1. M members subscribe at once
    await proc.until(`${M} members: every partition assigned`, () => coveredAt(ev, M, P, 0) >= 0, 90000)
    const firstSub = ev.find((e) => e.ev === 'subscribed')!.t
    const lastSub = ev.filter((e) => e.ev === 'subscribed').pop()!.t
    const doneAt = coveredAt(ev, M, P, 0)
    const done = ev[doneAt]!.t
    const firstAssigned = ev.find((e) => e.ev === 'assigned')!.t
    const assigns = ev.slice(0, doneAt + 1).filter((e) => e.ev === 'assigned')
    const perMember = new Map<number, number>()
    for (const e of assigns) perMember.set(e.m!, (perMember.get(e.m!) ?? 0) + 1)
    const first: Json = {
      seconds: round(done - firstSub),
      first_member_assigned_s: round(firstAssigned - firstSub),
      subscribes_spread_s: round(lastSub - firstSub),
      // 50 = one round; more: some members were assigned, then rebalanced again
      assign_callbacks: assigns.length,
      members_assigned_more_than_once: [...perMember.values()].filter((n) => n > 1).length,
      group_after: await describe(),
    }
    // 2. one more member
    await sleep(1000)
    const from = ev.length
    proc.send('add 1')
    await proc.until(`member ${M + 1}: every partition assigned`, () => coveredAt(ev, M + 1, P, from) >= 0, 60000)
    const joinSub = ev.slice(from).find((e) => e.ev === 'subscribed')!.t
    const jAt = coveredAt(ev, M + 1, P, from)
    const jDone = ev[jAt]!.t
    const revokes = ev.slice(from, jAt + 1).filter((e) => e.ev === 'revoked')
    const firstRevoke = revokes.length ? Math.min(...revokes.map((e) => e.t)) : null
    const join: Json = {
      seconds: round(jDone - joinSub),
      until_first_revoke_s: firstRevoke === null ? null : round(firstRevoke - joinSub),
      first_revoke_to_all_assigned_s: firstRevoke === null ? null : round(jDone - firstRevoke),
      members_revoked: new Set(revokes.map((e) => e.m)).size,
      group_after: await describe(),
    }
    const errors = ev.filter((e) => e.ev === 'error').slice(0, 5)
    return {
      'group.initial.rebalance.delay.ms': initialDelayMs,
      first_rebalance: first,
      join_rebalance: join,
      ...(errors.length ? { consumer_errors: errors } : {}),
    }
  } finally {
    proc.kill('SIGKILL')
  }
}

// ---------------------------------------------------------------- the part

async function guarded(ctx: GroupsContext, name: string, fn: () => Promise<Json>): Promise<Json> {
  ctx.log(name)
  try {
    return await fn()
  } catch (e) {
    const error = (e as Error).message
    ctx.log(`${name}: ${error.slice(0, 400)}`)
    return { error }
  }
}

export async function benchGroups(ctx: GroupsContext): Promise<Json> {
  const t0 = performance.now()
  const topics = [
    { name: FAILOVER_TOPIC, partitions: groupSettings.failover_partitions },
    { name: REBALANCE_TOPIC, partitions: groupSettings.rebalance_partitions },
  ]
  const out: Json = { settings: { ...groupSettings, failover_runs: ctx.failoverRuns } }

  if (ctx.targets.includes('fjord')) {
    const fjord: Json = {}
    out.fjord = fjord
    // default settings (group.initial.rebalance.delay.ms = 3000): failover, then 50 members
    const started = await guarded(ctx, 'groups: fjord (defaults)', async () => {
      const b = await ctx.startFjord([])
      try {
        await ctx.createTopics(b.bootstrap, topics)
        fjord.failover = await guarded(ctx, `groups: fjord failover x${ctx.failoverRuns}`, () =>
          failover(ctx, b.bootstrap, ctx.failoverRuns, 'fjord'),
        )
        fjord.rebalance_delay_3000 = await guarded(ctx, 'groups: fjord 50 members, initial delay 3000', () =>
          rebalance(ctx, b.bootstrap, 3000),
        )
      } finally {
        await b.stop()
      }
      return {}
    })
    if (started.error) fjord.error = started.error
    fjord.rebalance_delay_0 = await guarded(ctx, 'groups: fjord 50 members, initial delay 0', async () => {
      const b = await ctx.startFjord(['group.initial.rebalance.delay.ms=0'])
      try {
        await ctx.createTopics(b.bootstrap, topics)
        return await rebalance(ctx, b.bootstrap, 0)
      } finally {
        await b.stop()
      }
    })
  }

  if (ctx.targets.includes('mock')) {
    const mock: Json = {
      note:
        "librdkafka 2.0.2's mock: a first join always waits 3000 ms (fixed, no setting); any later join waits session.timeout.ms - 1000 (5000 ms) before it completes, even when every member has rejoined; sessions are checked once a second. Its figures are those timers, not work.",
    }
    out.mock = mock
    const started = await guarded(ctx, 'groups: mock', async () => {
      const b = await ctx.startMock(topics)
      try {
        mock.failover = await guarded(ctx, `groups: mock failover x${ctx.failoverRuns}`, () => failover(ctx, b.bootstrap, ctx.failoverRuns, 'mock'))
        mock.rebalance = await guarded(ctx, 'groups: mock 50 members', () => rebalance(ctx, b.bootstrap, '3000 (fixed in the mock)'))
      } finally {
        await b.stop()
      }
      return {}
    })
    if (started.error) mock.error = started.error
  }

  const fj = out.fjord as Json | undefined
  const mk = out.mock as Json | undefined
  const num = (o: unknown, ...keys: string[]): number | undefined => {
    let v: unknown = o
    for (const k of keys) v = v && typeof v === 'object' ? (v as Json)[k] : undefined
    return typeof v === 'number' ? v : undefined
  }
  const summary: Json = {
    fjord_failover_median_s: num(fj, 'failover', 'median_s'),
    fjord_first_rebalance_s_delay_3000: num(fj, 'rebalance_delay_3000', 'first_rebalance', 'seconds'),
    fjord_first_rebalance_s_delay_0: num(fj, 'rebalance_delay_0', 'first_rebalance', 'seconds'),
    fjord_join_rebalance_s_delay_3000: num(fj, 'rebalance_delay_3000', 'join_rebalance', 'seconds'),
    fjord_join_rebalance_s_delay_0: num(fj, 'rebalance_delay_0', 'join_rebalance', 'seconds'),
    fjord_join_first_revoke_to_all_assigned_s: num(fj, 'rebalance_delay_3000', 'join_rebalance', 'first_revoke_to_all_assigned_s'),
    mock_failover_median_s: num(mk, 'failover', 'median_s'),
    mock_first_rebalance_s: num(mk, 'rebalance', 'first_rebalance', 'seconds'),
    mock_join_rebalance_s: num(mk, 'rebalance', 'join_rebalance', 'seconds'),
    mock_join_first_revoke_to_all_assigned_s: num(mk, 'rebalance', 'join_rebalance', 'first_revoke_to_all_assigned_s'),
  }
  out.summary = summary
  const ratio = (a: unknown, b: unknown): number | null =>
    typeof a === 'number' && typeof b === 'number' && b > 0 ? round(a / b, 3) : null
  out.ratios = {
    'fjord/mock': {
      failover_median_s: ratio(summary.fjord_failover_median_s, summary.mock_failover_median_s),
      // the mock's rebalance figures are its fixed timers (see mock.note): no ratio for them
    },
    // what the timers alone would give: a dead member is noticed session.timeout.ms after its
    // last heartbeat (0..heartbeat.interval.ms before the kill) and the survivor hears of the
    // rebalance at its next heartbeat (0..heartbeat.interval.ms later)
    'fjord_failover/session_timeout': ratio(summary.fjord_failover_median_s, groupSettings.session_timeout_ms / 1000),
  }
  out.seconds = round((performance.now() - t0) / 1000, 1)
  return out
}
