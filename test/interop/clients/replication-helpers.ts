/**
 * Shared pieces of the replication fault tests (test/interop/replication-*.test.ts): a replicated
 * local cluster (one controller, brokers in zones, through test/helpers/cluster.ts), topic
 * creation with KafkaJS's admin, partition state (leader, replicas, ISR) as kcat -L sees it from
 * each broker, full reads with kcat, long-running Python clients with a stdin "stop", the checks
 * of acknowledged records against a full read, and the replicas' segment files on disk.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startCluster, type ClusterHandle } from '../../helpers/cluster.js';
import { PYTHON, runKcat } from '../../helpers/clients.js';
import { CLIENT_SCRIPTS_DIR, REPO_ROOT } from '../../helpers/paths.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ------------------------------------------------------------------------------------------ cluster

export interface ReplicatedClusterOptions {
  brokers?: number;
  /** Their ids; default 1..brokers. */
  brokerIds?: number[];
  /** `--set` for every broker. */
  brokerSettings?: Record<string, string>;
  /** `--set` for the controller (broker.session.timeout.ms, ...). */
  controllerSettings?: Record<string, string>;
}

/**
 * A controller process and `brokers` (default 3) broker processes in as many zones, ports chosen
 * by the OS. Internal topics are created by the brokers themselves; the tests create theirs.
 */
export function startReplicatedCluster(opts: ReplicatedClusterOptions = {}): Promise<ClusterHandle> {
  const brokers = opts.brokers ?? 3;
  const controllerArgs = Object.entries(opts.controllerSettings ?? {}).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  return startCluster({
    brokers,
    brokerIds: opts.brokerIds,
    zones: brokers,
    metadata: { mode: 'embedded' },
    brokerSettings: { 'auto.create.topics.enable': 'false', ...(opts.brokerSettings ?? {}) },
    readyTimeoutMs: 60_000,
    stopTimeoutMs: 30_000,
    clusterOptions: { controllerArgs },
  });
}

/** The brokers that run now (state 'running'). */
export function runningBrokers(h: ClusterHandle): number[] {
  return h.brokerIds.filter((id) => h.broker(id).state === 'running');
}

/** host:port of the given brokers (default: the running ones), comma-separated. */
export function bootstrapOf(h: ClusterHandle, ids: number[] = runningBrokers(h)): string {
  return ids.map((id) => h.broker(id).address).join(',');
}

export function kafkajsClient(bootstrap: string, clientId: string, retries = 5): Kafka {
  return new Kafka({
    clientId,
    brokers: bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { retries, initialRetryTime: 200, maxRetryTime: 2_000 },
  });
}

/** Creates a topic with KafkaJS's admin (CreateTopics with replication factor and configs). */
export async function createTopic(bootstrap: string, topic: string, partitions: number, replicationFactor: number, configs: Record<string, string> = {}): Promise<void> {
  const admin = kafkajsClient(bootstrap, 'replication-test-admin').admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
      waitForLeaders: true,
      timeout: 30_000,
    });
    if (!created) throw new Error(`topic ${topic} already existed`);
  } finally {
    await admin.disconnect();
  }
}

/** High watermarks per partition (ListOffsets latest), with KafkaJS's admin. */
export async function highWatermarks(bootstrap: string, topic: string): Promise<Map<number, number>> {
  const admin = kafkajsClient(bootstrap, 'replication-test-offsets', 10).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

// ------------------------------------------------------------------------------------------ metadata

export interface PartitionView {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

export interface TopicView {
  /** The broker that answered. */
  from: number;
  partitions: PartitionView[];
}

/** A topic's partitions as one broker describes them (kcat -L -J), or null when it did not answer. */
export async function topicView(address: string, topic: string): Promise<TopicView | null> {
  const r = await runKcat(['-L', '-J', '-b', address, '-t', topic, '-m', '5', '-X', 'broker.address.family=v4'], { timeoutMs: 20_000, check: false }).catch(() => null);
  if (!r || r.code !== 0) return null;
  try {
    const j = JSON.parse(r.stdout.toString()) as {
      originating_broker?: { id: number };
      topics?: { topic: string; error?: string; partitions?: { partition: number; leader: number; replicas: { id: number }[]; isrs: { id: number }[] }[] }[];
    };
    const t = j.topics?.find((x) => x.topic === topic);
    if (!t || t.error || !t.partitions) return null;
    return {
      from: j.originating_broker?.id ?? -1,
      partitions: t.partitions
        .map((p) => ({ partition: p.partition, leader: p.leader, replicas: p.replicas.map((x) => x.id), isr: p.isrs.map((x) => x.id).sort((a, b) => a - b) }))
        .sort((a, b) => a.partition - b.partition),
    };
  } catch {
    return null;
  }
}

export function describeView(v: TopicView | null): string {
  if (!v) return '(no answer)';
  return v.partitions.map((p) => `p${p.partition}: leader ${p.leader} replicas [${p.replicas.join(',')}] isr [${p.isr.join(',')}]`).join('; ');
}

/**
 * Polls until `ok` holds for the topic's view of every broker in `ids` (default: the running
 * ones); returns the views. Throws after timeoutMs with the last views.
 */
export async function waitForViews(
  h: ClusterHandle,
  topic: string,
  what: string,
  ok: (v: TopicView) => boolean,
  opts: { ids?: number[]; timeoutMs?: number; intervalMs?: number } = {},
): Promise<Map<number, TopicView>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last = new Map<number, TopicView | null>();
  for (;;) {
    const ids = opts.ids ?? runningBrokers(h);
    last = new Map(await Promise.all(ids.map(async (id) => [id, await topicView(h.broker(id).address, topic)] as const)));
    if ([...last.values()].every((v) => v !== null && ok(v))) return last as Map<number, TopicView>;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${opts.timeoutMs ?? 60_000} ms waiting for ${what} on ${topic}; last views:\n` + [...last].map(([id, v]) => `  broker ${id}: ${describeView(v)}`).join('\n'));
    }
    await sleep(opts.intervalMs ?? 500);
  }
}

/** Every partition has a leader and `size` ISR members. */
export function isrFull(partitions: number, size: number): (v: TopicView) => boolean {
  return (v) => v.partitions.length === partitions && v.partitions.every((p) => p.leader >= 0 && p.isr.length === size);
}

// ------------------------------------------------------------------------------------------ reading

export interface ReadRecord {
  p: number;
  o: number;
  v: string;
}

/** Every record of a topic, from the beginning to the end of each partition, read with kcat. */
export async function readTopic(bootstrap: string, topic: string, timeoutMs = 180_000): Promise<ReadRecord[]> {
  const r = await runKcat(['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %s\\n', '-X', 'broker.address.family=v4'], { timeoutMs });
  const out: ReadRecord[] = [];
  for (const line of r.stdout.toString().split('\n')) {
    if (line === '') continue;
    const i = line.indexOf(' ');
    const j = line.indexOf(' ', i + 1);
    out.push({ p: Number(line.slice(0, i)), o: Number(line.slice(i + 1, j)), v: line.slice(j + 1) });
  }
  return out;
}

// ------------------------------------------------------------------------------------------ checks

export interface Ack {
  p: number;
  o: number;
  v: string;
  /** When the client saw it (ms since the epoch). */
  ms: number;
}

export interface AckCheck {
  /** Acknowledged records not in the read at all. */
  missing: string[];
  /** Acknowledged records whose value is in the read, but not at the acknowledged partition and offset. */
  moved: string[];
  /** Values read more than once. */
  duplicates: string[];
  /** Partitions where numeric values do not increase with the offset. */
  disorder: string[];
  missingCount: number;
  duplicateCount: number;
}

/**
 * Checks acknowledged records against a full read: each acknowledged (partition, offset, value)
 * is in the read at exactly that place, no value appears twice, and (for numeric values) each
 * partition's values increase with the offset — the producer's order.
 */
export function checkAcked(acks: Ack[], read: ReadRecord[], opts: { numericOrder?: boolean } = {}): AckCheck {
  const at = new Map<string, string>();
  const where = new Map<string, ReadRecord[]>();
  for (const r of read) {
    at.set(`${r.p}:${r.o}`, r.v);
    const list = where.get(r.v);
    if (list) list.push(r);
    else where.set(r.v, [r]);
  }
  const res: AckCheck = { missing: [], moved: [], duplicates: [], disorder: [], missingCount: 0, duplicateCount: 0 };
  for (const a of acks) {
    const v = at.get(`${a.p}:${a.o}`);
    if (v === a.v) continue;
    const found = where.get(a.v);
    // acknowledged without an offset (-1): it must be in its partition, found by value
    if (a.o < 0 && found?.some((r) => r.p === a.p)) continue;
    if (found) {
      if (res.moved.length < 20) res.moved.push(`${a.v} acked at p${a.p}@${a.o}, read at ${found.map((r) => `p${r.p}@${r.o}`).join(',')} (p${a.p}@${a.o} holds ${v ?? 'nothing'})`);
    } else {
      res.missingCount++;
      if (res.missing.length < 20) res.missing.push(`${a.v} acked at p${a.p}@${a.o} (which holds ${v ?? 'nothing'})`);
    }
  }
  for (const [v, list] of where) {
    if (list.length < 2) continue;
    res.duplicateCount += list.length - 1;
    if (res.duplicates.length < 20) res.duplicates.push(`${v} at ${list.map((r) => `p${r.p}@${r.o}`).join(',')}`);
  }
  if (opts.numericOrder ?? true) {
    const byPartition = new Map<number, ReadRecord[]>();
    for (const r of read) {
      const l = byPartition.get(r.p);
      if (l) l.push(r);
      else byPartition.set(r.p, [r]);
    }
    for (const [p, list] of byPartition) {
      list.sort((a, b) => a.o - b.o);
      for (let i = 1; i < list.length; i++) {
        if (Number(list[i]!.v) <= Number(list[i - 1]!.v) && res.disorder.length < 20) {
          res.disorder.push(`p${p}: ${list[i]!.v}@${list[i]!.o} after ${list[i - 1]!.v}@${list[i - 1]!.o}`);
        }
      }
    }
  }
  return res;
}

/** The largest gap between consecutive times (sorted), and where it starts. */
export function largestGap(times: number[]): { gapMs: number; fromMs: number } {
  const s = [...times].sort((a, b) => a - b);
  let best = { gapMs: 0, fromMs: s[0] ?? 0 };
  for (let i = 1; i < s.length; i++) if (s[i]! - s[i - 1]! > best.gapMs) best = { gapMs: s[i]! - s[i - 1]!, fromMs: s[i - 1]! };
  return best;
}

// ------------------------------------------------------------------------------------------ segment files

/** The partition's directory in a broker's data dir. */
export function partitionDir(h: ClusterHandle, brokerId: number, topic: string, partition: number): string {
  return join(h.broker(brokerId).dataDir, `${topic}-${partition}`);
}

/** The contents of every .log segment of a replica, in offset order, concatenated. */
export function replicaLogBytes(h: ClusterHandle, brokerId: number, topic: string, partition: number): Buffer {
  const dir = partitionDir(h, brokerId, topic, partition);
  if (!existsSync(dir)) return Buffer.alloc(0);
  const files = readdirSync(dir).filter((f) => /^\d{20}\.log$/.test(f)).sort();
  return Buffer.concat(files.map((f) => readFileSync(join(dir, f))));
}

export interface BatchSpan {
  baseOffset: number;
  lastOffset: number;
  start: number;
  end: number;
}

/** The record batches of segment bytes (v2 header: base offset, length, ..., last offset delta at 23). */
export function batchesOf(buf: Buffer): { batches: BatchSpan[]; trailingBytes: number } {
  const batches: BatchSpan[] = [];
  let pos = 0;
  while (pos + 27 <= buf.length) {
    const baseOffset = Number(buf.readBigInt64BE(pos));
    const len = buf.readInt32BE(pos + 8);
    if (len <= 0 || pos + 12 + len > buf.length) break;
    batches.push({ baseOffset, lastOffset: baseOffset + buf.readInt32BE(pos + 23), start: pos, end: pos + 12 + len });
    pos += 12 + len;
  }
  return { batches, trailingBytes: buf.length - pos };
}

/** The bytes of the batches that start below `offset`. */
export function bytesBelow(buf: Buffer, offset: number): Buffer {
  const { batches } = batchesOf(buf);
  let end = 0;
  for (const b of batches) if (b.baseOffset < offset) end = b.end;
  return buf.subarray(0, end);
}

/** The log end offset of segment bytes. */
export function logEnd(buf: Buffer): number {
  const { batches } = batchesOf(buf);
  return batches.length === 0 ? 0 : batches[batches.length - 1]!.lastOffset + 1;
}

/** Where two buffers first differ (-1: equal). */
export function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

export interface ReplicaComparison {
  partition: number;
  leader: number;
  hw: number;
  /** Per replica: log end offset, bytes, whether its bytes equal the leader's. */
  replicas: { id: number; logEnd: number; bytes: number; sameAsLeader: boolean; firstDifference: number }[];
}

/**
 * Compares each replica's segment bytes with the leader's, up to the high watermark, and the
 * whole logs: polls until every replica's whole log equals the leader's (followers still
 * copying) or timeoutMs passes, then returns what it saw.
 */
export async function compareReplicaLogs(h: ClusterHandle, topic: string, view: TopicView, hws: Map<number, number>, timeoutMs = 30_000): Promise<ReplicaComparison[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out: ReplicaComparison[] = view.partitions.map((p) => {
      const hw = hws.get(p.partition) ?? -1;
      const leaderBytes = replicaLogBytes(h, p.leader, topic, p.partition);
      const leaderPrefix = bytesBelow(leaderBytes, hw);
      return {
        partition: p.partition,
        leader: p.leader,
        hw,
        replicas: p.replicas.map((id) => {
          const bytes = replicaLogBytes(h, id, topic, p.partition);
          const prefix = bytesBelow(bytes, hw);
          const same = prefix.equals(leaderPrefix) && bytes.equals(leaderBytes);
          return { id, logEnd: logEnd(bytes), bytes: bytes.length, sameAsLeader: same, firstDifference: same ? -1 : firstDifference(bytes, leaderBytes) };
        }),
      };
    });
    const allSame = out.every((c) => c.replicas.every((r) => r.sameAsLeader && r.logEnd === c.hw));
    if (allSame || Date.now() > deadline) return out;
    await sleep(500);
  }
}

export function describeComparison(c: ReplicaComparison[]): string {
  return c
    .map((x) => `p${x.partition} (leader ${x.leader}, hw ${x.hw}): ` + x.replicas.map((r) => `${r.id}: end ${r.logEnd}, ${r.bytes} B${r.sameAsLeader ? ', same' : `, DIFFERENT from byte ${r.firstDifference}`}`).join('; '))
    .join('\n');
}

// ------------------------------------------------------------------------------------------ live python clients

export interface LiveClient {
  readonly command: string;
  /** Writes "stop" and closes stdin. */
  stop(): void;
  /** SIGKILL. */
  kill(): void;
  stderr(): string;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs test/interop/clients/<script> with Debian's python3, calling onLine per stdout line. */
export function spawnPython(script: string, args: string[], onLine: (line: string) => void): LiveClient {
  const path = join(CLIENT_SCRIPTS_DIR, script);
  if (!existsSync(path)) throw new Error(`python client script missing: ${path}`);
  const child: ChildProcess = spawn(PYTHON, ['-u', path, ...args], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
  });
  let err = '';
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => {
    buf += s;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        onLine(line);
      } catch (e) {
        process.stderr.write(`onLine threw: ${(e as Error).stack}\n`);
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    err += s;
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  child.stdin!.on('error', () => {});
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (buf.length > 0) onLine(buf);
      resolve({ code, signal });
    });
  });
  return {
    command: `${PYTHON} ${path} ${args.join(' ')}`,
    stop: () => {
      if (child.stdin!.writable) child.stdin!.end('stop\n');
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    stderr: () => err,
    done,
  };
}

/** Resolves with the outcome of `p`, or rejects after ms. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ------------------------------------------------------------------------------------------ the steady producer

export interface ProducerRun {
  acks: Ack[];
  /** Delivery reports with an error: the record was given up. */
  failures: { v: string; error: string; retriable: boolean; fatal: boolean; ms: number }[];
  /** error_cb calls. */
  clientErrors: { error: string; retriable: boolean; fatal: boolean; ms: number; text: string }[];
  produced: number;
  summary: Record<string, unknown> | null;
  client: LiveClient;
}

/**
 * Starts a producer script speaking replication_producer.py's line protocol (A/E/C/P/S lines);
 * its reports accumulate in the returned object as they arrive.
 */
export function startProducer(args: string[], script = 'replication_producer.py'): ProducerRun {
  const run: ProducerRun = { acks: [], failures: [], clientErrors: [], produced: 0, summary: null, client: undefined as unknown as LiveClient };
  run.client = spawnPython(script, args, (line) => {
    const kind = line[0];
    if (kind === 'A') {
      const [, p, o, v, ms] = line.split(' ');
      run.acks.push({ p: Number(p), o: Number(o), v: v!, ms: Number(ms) });
    } else if (kind === 'E') {
      const [, v, error, retriable, fatal, ms] = line.split(' ');
      run.failures.push({ v: v!, error: error!, retriable: retriable === '1', fatal: fatal === '1', ms: Number(ms) });
    } else if (kind === 'C') {
      const parts = line.split(' ');
      run.clientErrors.push({ error: parts[1]!, retriable: parts[2] === '1', fatal: parts[3] === '1', ms: Number(parts[4]), text: parts.slice(5).join(' ') });
    } else if (kind === 'P') {
      run.produced = Number(line.split(' ')[1]);
    } else if (kind === 'S') {
      run.summary = JSON.parse(line.slice(2)) as Record<string, unknown>;
    }
  });
  return run;
}

/**
 * Error names (librdkafka's, as confluent-kafka-python reports them) that a client retries by
 * itself: Kafka's retriable errors (RetriableException in the Java client; old and new librdkafka
 * names) and librdkafka's local errors for a connection going away or coming back.
 * confluent-kafka-python's KafkaError.retriable() is only set for errors of the transactional
 * API, so the tests classify by name.
 */
export const RETRIABLE_ERRORS = new Set([
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
  'COORDINATOR_NOT_AVAILABLE',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'NOT_COORDINATOR_FOR_GROUP',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'GROUP_LOAD_IN_PROGRESS',
  'UNKNOWN_TOPIC_OR_PART',
  'KAFKA_STORAGE_ERROR',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'OFFSET_NOT_AVAILABLE',
  'NOT_CONTROLLER',
  '_TRANSPORT',
  '_ALL_BROKERS_DOWN',
  '_RESOLVE',
  '_TIMED_OUT',
  '_WAIT_COORD',
]);

export function isRetriable(name: string): boolean {
  return RETRIABLE_ERRORS.has(name);
}

export function countBy<T>(items: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of items) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}
