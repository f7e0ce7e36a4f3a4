/**
 * Consumer-group members driven by real clients, for test/interop/groups-*.test.ts.
 *
 * Every member writes what it does into one shared GroupLog: assignments as the client reports
 * them, every record it processed, and every commit the broker acknowledged (each member commits
 * the next offsets after each processed batch, auto commit off). The tests check the log.
 *
 *  - confluentMember: confluent_group_member.py in its own OS process (librdkafka 2.0.2), so it
 *    can be SIGKILLed.
 *  - kafkaPythonMember: kafka_python_group_member.py, its own process.
 *  - kafkajsMember / platformaticMember: in this process.
 *
 * Protocol names: a classic group picks a protocol every member lists, by name. librdkafka,
 * kafka-python and @platformatic/kafka call round robin 'roundrobin'; KafkaJS's built-in
 * assigner is named 'RoundRobinAssigner', so kafkajsMember registers KafkaJS's own round-robin
 * assigner under the name 'roundrobin' (KafkaJS's documented custom-assigner API). The
 * subscription and assignment bytes are the standard ConsumerProtocol v0 layout in every client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel, PartitionAssigners, type Consumer as KafkaJSConsumer } from 'kafkajs';
import { Consumer as PltConsumer, type MessagesStream } from '@platformatic/kafka';
import { CLIENT_SCRIPTS_DIR, REPO_ROOT } from '../../helpers/paths.js';
import { PYTHON } from '../../helpers/clients.js';

export interface ConsumedRecord {
  member: string;
  p: number;
  o: number;
  key: string | null;
  t: number;
}
export interface AckedCommit {
  member: string;
  p: number;
  /** The next offset to consume. */
  o: number;
  t: number;
}
export interface AssignmentEvent {
  member: string;
  kind: 'assign' | 'revoke' | 'lost';
  /** The partitions the client's callback was given. */
  partitions: number[];
  /** The member's whole assignment after the event, when the client tells it. */
  assignment: number[] | null;
  t: number;
}

export class GroupLog {
  readonly records: ConsumedRecord[] = [];
  readonly commits: AckedCommit[] = [];
  readonly assignments: AssignmentEvent[] = [];
  readonly problems: string[] = [];
  /** Current assignment per member (null: not known yet, or gone). */
  readonly current = new Map<string, Set<number>>();

  assigned(member: string, kind: AssignmentEvent['kind'], partitions: number[], assignment: number[] | null): void {
    const t = Date.now();
    this.assignments.push({ member, kind, partitions, assignment, t });
    let cur = this.current.get(member);
    if (!cur) this.current.set(member, (cur = new Set()));
    if (assignment !== null) {
      cur.clear();
      for (const p of assignment) cur.add(p);
    } else if (kind === 'assign') {
      for (const p of partitions) cur.add(p);
    } else {
      for (const p of partitions) cur.delete(p);
    }
  }

  /** A member is gone (killed): it owns nothing from now on. */
  gone(member: string): void {
    this.assigned(member, 'lost', [...(this.current.get(member) ?? [])], []);
  }

  /** Whether the member owned partition p at time t, by its own latest report before t. */
  ownedAt(member: string, p: number, t: number): boolean {
    const own = new Set<number>();
    for (const e of this.assignments) {
      if (e.t > t) break;
      if (e.member !== member) continue;
      if (e.assignment !== null) {
        own.clear();
        for (const x of e.assignment) own.add(x);
      } else if (e.kind === 'assign') for (const x of e.partitions) own.add(x);
      else for (const x of e.partitions) own.delete(x);
    }
    return own.has(p);
  }

  /**
   * The log without what a member did with a partition after the group had given it to another
   * member (records of a fetch still in flight when the partition moved, and their commits).
   * The broker cannot stop a client from doing that, and the classic protocol does not tie
   * commits to ownership (Kafka accepts them too); the tests report these and check the rest.
   */
  owned(): { log: GroupLog; staleRecords: ConsumedRecord[]; staleCommits: AckedCommit[] } {
    const out = new GroupLog();
    out.assignments.push(...this.assignments);
    const staleRecords: ConsumedRecord[] = [];
    const staleCommits: AckedCommit[] = [];
    for (const r of this.records) (this.ownedAt(r.member, r.p, r.t) ? out.records : staleRecords).push(r);
    for (const c of this.commits) (this.ownedAt(c.member, c.p, c.t) ? out.commits : staleCommits).push(c);
    return { log: out, staleRecords, staleCommits };
  }

  /**
   * For each time a member was given a partition it did not own: where it started consuming it,
   * and the highest commit of that partition acknowledged before the assignment. A member must
   * start at the committed offset: `first < committed` means a committed record came back.
   */
  takeovers(): { member: string; p: number; t: number; committed: number; first: number | null }[] {
    const out: { member: string; p: number; t: number; committed: number; first: number | null }[] = [];
    const owned = new Map<string, Set<number>>();
    const open: { member: string; p: number; t: number; end: number }[] = [];
    for (const e of this.assignments) {
      const before = owned.get(e.member) ?? new Set<number>();
      const now = new Set(before);
      if (e.assignment !== null) {
        now.clear();
        for (const x of e.assignment) now.add(x);
      } else if (e.kind === 'assign') for (const x of e.partitions) now.add(x);
      else for (const x of e.partitions) now.delete(x);
      for (const o of open) if (o.member === e.member && o.end === Infinity && !now.has(o.p)) o.end = e.t;
      for (const p of now) if (!before.has(p)) open.push({ member: e.member, p, t: e.t, end: Infinity });
      owned.set(e.member, now);
    }
    for (const o of open) {
      const committed = this.lastCommits({ before: o.t }).get(o.p) ?? 0;
      const recs = this.records.filter((r) => r.member === o.member && r.p === o.p && r.t >= o.t && r.t < o.end);
      out.push({ member: o.member, p: o.p, t: o.t, committed, first: recs.length ? recs[0]!.o : null });
    }
    return out;
  }

  /** Every member's current assignment, as plain arrays. */
  snapshot(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [m, s] of this.current) out[m] = [...s].sort((a, b) => a - b);
    return out;
  }

  /** Highest acknowledged commit per partition (optionally of one member, or before a time). */
  lastCommits(opts: { member?: string; before?: number } = {}): Map<number, number> {
    const out = new Map<number, number>();
    for (const c of this.commits) {
      if (opts.member !== undefined && c.member !== opts.member) continue;
      if (opts.before !== undefined && c.t > opts.before) continue;
      if ((out.get(c.p) ?? -1) < c.o) out.set(c.p, c.o);
    }
    return out;
  }

  /** Distinct (partition, offset) pairs consumed. */
  distinct(): Set<string> {
    return new Set(this.records.map((r) => `${r.p}:${r.o}`));
  }

  /** Records consumed more than once: key "p:o" → consuming members in order. */
  duplicates(): Map<string, ConsumedRecord[]> {
    const by = new Map<string, ConsumedRecord[]>();
    for (const r of this.records) {
      const k = `${r.p}:${r.o}`;
      const l = by.get(k);
      if (l) l.push(r);
      else by.set(k, [r]);
    }
    for (const [k, l] of by) if (l.length < 2) by.delete(k);
    return by;
  }

  /**
   * Records consumed below a commit of their partition that had been acknowledged (to any
   * member) before the record was consumed: a committed record must never be delivered again.
   */
  belowAckedCommit(): ConsumedRecord[] {
    const commits = [...this.commits].sort((a, b) => a.t - b.t);
    const out: ConsumedRecord[] = [];
    for (const r of this.records) {
      let max = -1;
      for (const c of commits) {
        if (c.t >= r.t) break;
        if (c.p === r.p && c.o > max) max = c.o;
      }
      if (r.o < max) out.push(r);
    }
    return out;
  }
}

export interface GroupMember {
  readonly name: string;
  /** Graceful stop: the client leaves the group. */
  stop(): Promise<void>;
}

export interface MemberOptions {
  bootstrap: string;
  group: string;
  topic: string;
  name: string;
  sessionTimeoutMs?: number;
}

// ------------------------------------------------------------------------------ process members

export class ProcessMember implements GroupMember {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  private done = false;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    private readonly log: GroupLog,
  ) {
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.done = true;
        resolve({ code, signal });
      });
    });
    child.on('error', (e) => log.problems.push(`${name}: ${e.message}`));
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => {
      buf += s;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.onLine(line);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      this.stderr += s;
      if (this.stderr.length > 200_000) this.stderr = this.stderr.slice(-100_000);
    });
    child.stdin!.on('error', () => {
      /* EPIPE after a kill */
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  private onLine(line: string): void {
    let ev: { ev: string; [k: string]: unknown };
    try {
      ev = JSON.parse(line) as typeof ev;
    } catch {
      this.log.problems.push(`${this.name} printed a non-JSON line: ${line.slice(0, 200)}`);
      return;
    }
    const t = Date.now();
    switch (ev.ev) {
      case 'rec':
        this.log.records.push({ member: this.name, p: ev.p as number, o: ev.o as number, key: ev.k as string | null, t });
        break;
      case 'commit':
        for (const [p, o] of Object.entries(ev.offsets as Record<string, number>)) this.log.commits.push({ member: this.name, p: Number(p), o, t });
        break;
      case 'assign':
      case 'revoke':
      case 'lost':
        this.log.assigned(this.name, ev.ev, ev.partitions as number[], (ev.assignment as number[] | null | undefined) ?? null);
        break;
      case 'commit-failed':
      case 'error':
        this.log.problems.push(`${this.name} ${ev.ev}: ${String(ev.error)}`);
        break;
      default:
        break;
    }
  }

  async stop(timeoutMs = 20_000): Promise<void> {
    if (this.done) return;
    this.child.stdin!.end('stop\n');
    const timer = setTimeout(() => {
      this.log.problems.push(`${this.name} did not stop within ${timeoutMs} ms; SIGKILL`);
      this.child.kill('SIGKILL');
    }, timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL: no LeaveGroup, no last commit. */
  async kill(): Promise<void> {
    if (this.done) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

function spawnPython(script: string, args: string[]): ChildProcess {
  return spawn(PYTHON, ['-u', join(CLIENT_SCRIPTS_DIR, script), ...args], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
  });
}

export function confluentMember(
  log: GroupLog,
  o: MemberOptions & { strategy?: string; batch?: number; delayMs?: number },
): ProcessMember {
  const child = spawnPython('confluent_group_member.py', [
    '--bootstrap', o.bootstrap,
    '--group', o.group,
    '--topic', o.topic,
    '--client-id', o.name,
    '--strategy', o.strategy ?? 'roundrobin',
    '--session-timeout-ms', String(o.sessionTimeoutMs ?? 6000),
    '--batch', String(o.batch ?? 20),
    '--delay-ms', String(o.delayMs ?? 0),
  ]);
  return new ProcessMember(o.name, child, log);
}

export function kafkaPythonMember(log: GroupLog, o: MemberOptions): ProcessMember {
  const child = spawnPython('kafka_python_group_member.py', [
    'member',
    '--bootstrap', o.bootstrap,
    '--group', o.group,
    '--topic', o.topic,
    '--session-timeout-ms', String(o.sessionTimeoutMs ?? 6000),
  ]);
  return new ProcessMember(o.name, child, log);
}

// ------------------------------------------------------------------------------------- KafkaJS

export function kafkajsClient(bootstrap: string, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2_000 },
  });
}

export class KafkaJSMember implements GroupMember {
  private constructor(
    readonly name: string,
    readonly consumer: KafkaJSConsumer,
  ) {}

  /** batchDelayMs: "processing" time between a batch and its commit; maxBytesPerPartition: fetch size. */
  static async start(log: GroupLog, o: MemberOptions & { batchDelayMs?: number; maxBytesPerPartition?: number }): Promise<KafkaJSMember> {
    const kafka = kafkajsClient(o.bootstrap, o.name);
    const consumer = kafka.consumer({
      groupId: o.group,
      sessionTimeout: o.sessionTimeoutMs ?? 6000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 100,
      ...(o.maxBytesPerPartition ? { maxBytesPerPartition: o.maxBytesPerPartition, maxBytes: o.maxBytesPerPartition * 16 } : {}),
      retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2_000 },
      // KafkaJS's round robin, under the protocol name the other clients use (see the header).
      partitionAssigners: [(config) => ({ ...PartitionAssigners.roundRobin(config), name: 'roundrobin' })],
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      log.assigned(o.name, 'assign', e.payload.memberAssignment[o.topic] ?? [], e.payload.memberAssignment[o.topic] ?? []);
    });
    consumer.on(consumer.events.CRASH, (e) => {
      log.problems.push(`${o.name} crashed: ${e.payload.error.message} (restart: ${e.payload.restart})`);
    });
    await consumer.connect();
    await consumer.subscribe({ topic: o.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        let next = -1;
        for (const m of batch.messages) {
          if (!isRunning() || isStale()) break;
          log.records.push({ member: o.name, p: batch.partition, o: Number(m.offset), key: m.key?.toString() ?? null, t: Date.now() });
          resolveOffset(m.offset);
          next = Number(m.offset) + 1;
        }
        if (next < 0) return;
        if (o.batchDelayMs) await new Promise((r) => setTimeout(r, o.batchDelayMs));
        try {
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(next) }]);
          log.commits.push({ member: o.name, p: batch.partition, o: next, t: Date.now() });
        } catch (e) {
          log.problems.push(`${o.name} commit-failed: ${(e as Error).message}`);
        }
        await heartbeat();
      },
    });
    return new KafkaJSMember(o.name, consumer);
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

// --------------------------------------------------------------------------- @platformatic/kafka

export class PlatformaticMember implements GroupMember {
  private constructor(
    readonly name: string,
    private readonly consumer: PltConsumer,
    private readonly stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>,
    private readonly loop: Promise<void>,
  ) {}

  static async start(log: GroupLog, o: MemberOptions): Promise<PlatformaticMember> {
    const consumer = new PltConsumer({
      clientId: o.name,
      bootstrapBrokers: [o.bootstrap],
      groupId: o.group,
      sessionTimeout: o.sessionTimeoutMs ?? 6000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 500,
      // The default, spelled out: the protocol name librdkafka and kafka-python use.
      protocols: [{ name: 'roundrobin', version: 0 }],
      autocommit: false,
      maxWaitTime: 100,
      timeout: 30_000,
      retries: 30,
      retryDelay: 250,
      connectTimeout: 5_000,
    });
    consumer.on('consumer:group:join', (payload: { assignments?: { topic: string; partitions: number[] }[] }) => {
      const mine = (payload.assignments ?? []).filter((a) => a.topic === o.topic).flatMap((a) => a.partitions);
      log.assigned(o.name, 'assign', mine, mine);
    });
    consumer.on('consumer:group:rebalance', () => {
      /* the next group:join carries the new assignment */
    });
    const stream = await consumer.consume({ topics: [o.topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false, maxWaitTime: 100 });
    stream.on('error', (e: Error) => log.problems.push(`${o.name} stream error: ${e.message}`));
    const loop = (async () => {
      for await (const m of stream) {
        const off = Number(m.offset);
        log.records.push({ member: o.name, p: m.partition, o: off, key: m.key?.toString() ?? null, t: Date.now() });
        try {
          await m.commit();
          log.commits.push({ member: o.name, p: m.partition, o: off + 1, t: Date.now() });
        } catch (e) {
          log.problems.push(`${o.name} commit-failed: ${(e as Error).message}`);
        }
      }
    })().catch((e: unknown) => {
      log.problems.push(`${o.name} consume loop: ${(e as Error).message}`);
    });
    return new PlatformaticMember(o.name, consumer, stream, loop);
  }

  async stop(): Promise<void> {
    await this.stream.close();
    await this.loop;
    await this.consumer.close(true);
  }
}

// ------------------------------------------------------------------------------------- helpers

export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, describe?: () => string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe ? `\n${describe()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The group's committed offsets through kafka-python's OffsetFetch (a client that is not a member). */
export async function committedViaKafkaPython(bootstrap: string, group: string, topic: string, partitions: number): Promise<(number | null)[]> {
  const child = spawnPython('kafka_python_group_member.py', ['committed', '--bootstrap', bootstrap, '--group', group, '--topic', topic, '--partitions', String(partitions)]);
  child.stdin!.end();
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  if (code !== 0) throw new Error(`kafka_python_group_member.py committed exited with ${code}: ${err.slice(-2000)}`);
  const j = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number | null>;
  return Array.from({ length: partitions }, (_, p) => j[String(p)] ?? null);
}

/** Produces `perPartition` records to each partition with KafkaJS; keys are "<tag>-<p>-<i>". */
export async function produceKeyed(bootstrap: string, topic: string, partitions: number, perPartition: number, tag: string, batches = 1): Promise<void> {
  const producer = kafkajsClient(bootstrap, 'groups-producer').producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const per = Math.ceil(perPartition / batches);
    for (let from = 0; from < perPartition; from += per) {
      const messages = [];
      for (let i = from; i < Math.min(from + per, perPartition); i++) for (let p = 0; p < partitions; p++) messages.push({ partition: p, key: `${tag}-${p}-${i}`, value: `${tag}-${p}-${i}` });
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

export async function createTopic(bootstrap: string, topic: string, partitions: number): Promise<void> {
  const admin = kafkajsClient(bootstrap, 'groups-admin').admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** End offsets per partition, with KafkaJS's ListOffsets. */
export async function endOffsets(bootstrap: string, topic: string): Promise<number[]> {
  const admin = kafkajsClient(bootstrap, 'groups-admin').admin();
  await admin.connect();
  try {
    const offs = await admin.fetchTopicOffsets(topic);
    return offs.sort((a, b) => a.partition - b.partition).map((x) => Number(x.high));
  } finally {
    await admin.disconnect();
  }
}
