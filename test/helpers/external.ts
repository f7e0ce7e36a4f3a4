/**
 * Produce/consume helpers for the external clients: kcat, confluent-kafka-python, kafka-python.
 * Records go through JSONL files (python) or delimited stdin / length-prefixed format (kcat).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKcat, runPython, type RunResult } from './clients.js';
import {
  KCAT_KEY_DELIM,
  KCAT_MSG_DELIM,
  readJsonl,
  writeJsonl,
  type ConsumedRecord,
  type TestRecord,
} from './dataset.js';

export type PyClient = 'confluent' | 'kafka-python';
const SCRIPT: Record<PyClient, string> = {
  confluent: 'confluent_client.py',
  'kafka-python': 'kafka_python_client.py',
};

/** A scratch directory removed by the returned cleanup function. */
export function scratchDir(prefix = 'fjord-interop-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    cleanup: () => {
      if (!process.env.FJORD_TEST_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function lastJson(r: RunResult): Record<string, unknown> | null {
  const lines = r.stdout.toString('utf8').trim().split('\n').reverse();
  for (const l of lines) {
    if (l.startsWith('{')) {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        /* keep looking */
      }
    }
  }
  return null;
}

export async function pythonProduce(
  client: PyClient,
  bootstrap: string,
  topic: string,
  records: TestRecord[],
  opts: { compression?: string; acks?: string; timeoutMs?: number; extraArgs?: string[] } = {},
): Promise<Record<string, unknown> | null> {
  const s = scratchDir();
  try {
    const input = join(s.dir, 'in.jsonl');
    writeJsonl(input, records);
    const r = await runPython(
      SCRIPT[client],
      [
        'produce',
        '--bootstrap',
        bootstrap,
        '--topic',
        topic,
        '--input',
        input,
        '--compression',
        opts.compression ?? 'none',
        '--acks',
        opts.acks ?? 'all',
        ...(opts.extraArgs ?? []),
      ],
      { timeoutMs: opts.timeoutMs ?? 180_000 },
    );
    return lastJson(r);
  } finally {
    s.cleanup();
  }
}

export async function pythonConsume(
  client: PyClient,
  bootstrap: string,
  topic: string,
  opts: { timeoutMs?: number } = {},
): Promise<ConsumedRecord[]> {
  const s = scratchDir();
  try {
    const output = join(s.dir, 'out.jsonl');
    const timeoutMs = opts.timeoutMs ?? 180_000;
    await runPython(
      SCRIPT[client],
      ['consume', '--bootstrap', bootstrap, '--topic', topic, '--output', output, '--timeout', String(Math.floor(timeoutMs / 1000) - 15)],
      { timeoutMs },
    );
    return readJsonl(output);
  } finally {
    s.cleanup();
  }
}

// ------------------------------------------------------------------------------------------ kcat

const KCAT_COMMON = ['-m', '20', '-X', 'broker.address.family=v4', '-X', 'socket.timeout.ms=30000'];

/**
 * Produces with kcat, one kcat process per partition (`-p N`), keys split off with `-K \x1f`,
 * records separated by `-D \x1e`. kcat can only attach the same headers (`-H`) to every record of
 * a run, so each partition's records get `kcat-p=<N>` and `src=kcat` headers; the returned records
 * carry the headers that were actually sent (compare against those).
 */
export async function kcatProduce(
  bootstrap: string,
  topic: string,
  records: TestRecord[],
  opts: { codec?: string; timeoutMs?: number } = {},
): Promise<TestRecord[]> {
  const byPartition = new Map<number, TestRecord[]>();
  for (const r of records) {
    if (!byPartition.has(r.partition)) byPartition.set(r.partition, []);
    byPartition.get(r.partition)!.push(r);
  }
  const sentHeaders = (p: number): Array<[string, Buffer]> => [
    ['src', Buffer.from('kcat')],
    ['kcat-p', Buffer.from(String(p))],
    ['empty', Buffer.alloc(0)],
  ];
  for (const [p, recs] of [...byPartition.entries()].sort((a, b) => a[0] - b[0])) {
    const parts: Buffer[] = [];
    for (const r of recs) {
      if (r.value === null) throw new Error('kcatProduce: kcat cannot produce null values without -Z');
      for (const b of [r.key ?? Buffer.alloc(0), r.value]) {
        if (b.includes(KCAT_MSG_DELIM) || b.includes(KCAT_KEY_DELIM)) {
          throw new Error('kcatProduce: record contains a kcat delimiter byte (use makeDataset({kcatSafe:true}))');
        }
      }
      if (r.key === null && r.value.length === 0) throw new Error('kcatProduce: kcat skips empty records');
      if (r.key !== null) parts.push(r.key, Buffer.from([KCAT_KEY_DELIM]));
      parts.push(r.value, Buffer.from([KCAT_MSG_DELIM]));
    }
    const args = [
      '-P',
      '-b',
      bootstrap,
      '-t',
      topic,
      '-p',
      String(p),
      '-D',
      '\\x1e',
      '-K',
      '\\x1f',
      '-X',
      'message.max.bytes=2000000',
      '-X',
      'acks=all',
      '-X',
      'linger.ms=5',
      '-X',
      'message.timeout.ms=60000',
      ...KCAT_COMMON,
    ];
    for (const [n, v] of sentHeaders(p)) args.push('-H', `${n}=${v.toString('latin1')}`);
    if (opts.codec && opts.codec !== 'none') args.push('-z', opts.codec);
    // kcat exits 1 when any delivery report failed.
    await runKcat(args, { input: Buffer.concat(parts), timeoutMs: opts.timeoutMs ?? 120_000 });
  }
  return records.map((r) => ({ ...r, headers: sentHeaders(r.partition) }));
}

/**
 * Reads the whole topic with `kcat -C -o beginning -e` (no consumer group) and parses the output
 * format `%p %o %K %S\n<key><value>\n<headers n=v CSV>\n`, using the printed lengths so that
 * binary keys and values are carried byte for byte.
 */
export async function kcatConsume(
  bootstrap: string,
  topic: string,
  opts: { partition?: number; timeoutMs?: number } = {},
): Promise<ConsumedRecord[]> {
  const args = ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %K %S\\n%k%s\\n%h\\n', ...KCAT_COMMON];
  if (opts.partition !== undefined) args.push('-p', String(opts.partition));
  const r = await runKcat(args, { timeoutMs: opts.timeoutMs ?? 120_000 });
  return parseKcatOutput(r.stdout);
}

export function parseKcatOutput(buf: Buffer): ConsumedRecord[] {
  const out: ConsumedRecord[] = [];
  let pos = 0;
  const readLine = (): string => {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`kcat output truncated at byte ${pos}`);
    const s = buf.subarray(pos, nl).toString('latin1');
    pos = nl + 1;
    return s;
  };
  while (pos < buf.length) {
    const head = readLine();
    const m = /^(\d+) (\d+) (-?\d+) (-?\d+)$/.exec(head);
    if (!m) throw new Error(`unexpected kcat output line at byte ${pos}: ${JSON.stringify(head.slice(0, 200))}`);
    const keyLen = Number(m[3]);
    const valLen = Number(m[4]);
    const key = keyLen < 0 ? null : Buffer.from(buf.subarray(pos, pos + keyLen));
    pos += Math.max(0, keyLen);
    const value = valLen < 0 ? null : Buffer.from(buf.subarray(pos, pos + valLen));
    pos += Math.max(0, valLen);
    if (buf[pos] !== 0x0a) throw new Error(`kcat output: expected newline after record body at byte ${pos}`);
    pos++;
    const hline = readLine();
    const headers: Array<[string, Buffer]> = [];
    if (hline.length > 0) {
      for (const item of hline.split(',')) {
        const eq = item.indexOf('=');
        if (eq < 0) headers.push([item, Buffer.alloc(0)]);
        else headers.push([item.slice(0, eq), Buffer.from(item.slice(eq + 1), 'latin1')]);
      }
    }
    out.push({ partition: Number(m[1]), offset: Number(m[2]), key, value, headers });
  }
  return out;
}

/** `kcat -L -J` metadata for one topic. */
export async function kcatMetadata(bootstrap: string, topic?: string): Promise<Record<string, unknown>> {
  const args = ['-L', '-J', '-b', bootstrap, ...KCAT_COMMON];
  if (topic) args.push('-t', topic);
  const r = await runKcat(args, { timeoutMs: 60_000 });
  return JSON.parse(r.stdout.toString('utf8')) as Record<string, unknown>;
}

/** Creates a topic through the Python client's admin API (and waits for it in metadata). */
export async function pythonCreateTopic(
  client: PyClient,
  bootstrap: string,
  topic: string,
  partitions: number,
  configs: Record<string, string> = {},
): Promise<void> {
  const args = ['create-topic', '--bootstrap', bootstrap, '--topic', topic, '--partitions', String(partitions)];
  for (const [k, v] of Object.entries(configs)) args.push('--config', `${k}=${v}`);
  await runPython(SCRIPT[client], args, { timeoutMs: 90_000 });
}

export interface AdminStep {
  step: string;
  ok: boolean;
  info?: boolean;
  detail: string;
}

/** Runs a Python admin scenario; returns its steps (the script exits 1 when a step failed). */
export async function pythonAdminScenario(client: PyClient, bootstrap: string, prefix: string): Promise<{ steps: AdminStep[]; run: RunResult }> {
  const run = await runPython(SCRIPT[client], ['admin', '--bootstrap', bootstrap, '--prefix', prefix], { timeoutMs: 180_000, check: false });
  const steps: AdminStep[] = [];
  for (const line of run.stdout.toString('utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const j = JSON.parse(line) as AdminStep & { summary?: boolean };
      if (!j.summary) steps.push(j);
    } catch {
      /* ignore */
    }
  }
  return { steps, run };
}
