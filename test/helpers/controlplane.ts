/**
 * Test harness for the control plane: `fjord controlplane` as a real subprocess on a temporary
 * data directory and a free loopback port, driven by the AWS CLI v2 (/usr/bin/aws, Debian's
 * awscli) or @aws-sdk/client-kafka — the clients an MSK user has.
 *
 * The control plane's clusters are detached processes (they outlive it on purpose: a control
 * plane restart must not stop them), so stop() also SIGKILLs every process recorded in the
 * clusters' cluster.json files and the ZooKeepers the control plane started, and a process exit
 * hook does the same if a test dies midway.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runProcess, type RunResult } from './clients.js';
import { BROKER_ENTRY } from './paths.js';
import { freePort } from './util.js';

export const AWS_CLI = '/usr/bin/aws';

/** Every file under `dir` (4 levels deep at most) whose name passes `want`. */
function filesUnder(dir: string, want: (name: string) => boolean, depth = 0): string[] {
  if (depth > 4 || !existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return filesUnder(p, want, depth + 1);
    return want(e.name) ? [p] : [];
  });
}

/** Every pid the control plane's data dir knows of: brokers, controllers, ZooKeepers. */
export function recordedPids(dataDir: string): number[] {
  const pids: number[] = [];
  for (const file of filesUnder(dataDir, (n) => n === 'cluster.json' || n.endsWith('.pid'))) {
    try {
      if (file.endsWith('cluster.json')) {
        const f = JSON.parse(readFileSync(file, 'utf8')) as { brokers?: { pid: number | null }[]; controllers?: { pid: number | null }[] };
        for (const m of [...(f.brokers ?? []), ...(f.controllers ?? [])]) if (m.pid) pids.push(m.pid);
      } else {
        const n = Number(readFileSync(file, 'utf8').trim());
        if (Number.isInteger(n) && n > 0) pids.push(n);
      }
    } catch {
      /* half-written or foreign */
    }
  }
  return pids;
}

/** The directory (holding cluster.json) of the control plane's cluster named `clusterName`. */
export function clusterDirOf(dataDir: string, clusterName: string): string {
  const found = filesUnder(dataDir, (n) => n === 'cluster.json')
    .map((file) => dirname(file))
    .filter((dir) => (JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as { name: string }).name === clusterName || dir.includes(clusterName));
  if (found.length !== 1) throw new Error(`${found.length} cluster directories for ${clusterName} under ${dataDir}`);
  return found[0]!;
}

/** Broker id → pid (as cluster.json records it) of the control plane's cluster `clusterName`. */
export function brokerPids(dataDir: string, clusterName: string): Map<number, number> {
  const f = JSON.parse(readFileSync(join(clusterDirOf(dataDir, clusterName), 'cluster.json'), 'utf8')) as { brokers: { id: number; pid: number | null }[] };
  return new Map(f.brokers.flatMap((b) => (b.pid ? [[b.id, b.pid] as [number, number]] : [])));
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

const liveDirs = new Set<string>();
let hookInstalled = false;
function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const dir of liveDirs) killAll(recordedPids(dir));
  });
}

export interface ControlPlaneHandle {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  dataDir: string;
  region: string;
  /** The control plane's own process. */
  pid(): number | null;
  /** Its stdout and stderr so far. */
  output(): string;
  /** Runs `/usr/bin/aws kafka <args> --endpoint-url ... --region ... --output json`. */
  aws(args: string[], opts?: { check?: boolean; timeoutMs?: number }): Promise<RunResult>;
  /** The parsed JSON of a successful `aws kafka` call. */
  awsJson<T = Record<string, unknown>>(args: string[]): Promise<T>;
  /** SIGKILL (a crash) or SIGTERM of the control plane only; its clusters keep running. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the control plane again on the same data dir and port. */
  start(): Promise<void>;
  /** Stops the control plane, kills every process it provisioned, removes the data dir. */
  stop(): Promise<void>;
}

export const AWS_ENV: Record<string, string> = {
  AWS_ACCESS_KEY_ID: 'AKIDFJORDTEST',
  AWS_SECRET_ACCESS_KEY: 'fjord-test-secret',
  AWS_PAGER: '',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  AWS_EC2_METADATA_DISABLED: 'true',
};

export async function startControlPlane(opts: { region?: string; readyTimeoutMs?: number; env?: Record<string, string> } = {}): Promise<ControlPlaneHandle> {
  installExitHook();
  if (!existsSync(BROKER_ENTRY)) throw new Error(`Fjord entry point not found: ${BROKER_ENTRY}. Build it first (npx tsc -p .).`);
  const dataDir = mkdtempSync(join(tmpdir(), 'fjord-controlplane-'));
  liveDirs.add(dataDir);
  const port = await freePort();
  const region = opts.region ?? 'us-east-1';
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let out = '';
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    out = ''
    const c = spawn(process.execPath, [BROKER_ENTRY, 'controlplane', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--region', region], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(opts.env ?? {}) },
    });
    child = c;
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    c.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
    c.stderr!.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
    while (!/Fjord control plane ready/.test(out)) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`fjord controlplane exited (${c.exitCode ?? c.signalCode}) before it was ready:\n${out}`);
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`fjord controlplane printed no ready line:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const aws = (args: string[], o: { check?: boolean; timeoutMs?: number } = {}): Promise<RunResult> => {
    if (!existsSync(AWS_CLI)) {
      throw new Error(`${AWS_CLI} (the AWS CLI v2) is missing: apt-get install -y awscli (scripts/install-test-deps.sh does)`);
    }
    return runProcess(AWS_CLI, ['kafka', ...args, '--endpoint-url', endpoint, '--region', region, '--output', 'json'], {
      env: AWS_ENV,
      check: o.check ?? true,
      timeoutMs: o.timeoutMs ?? 60_000,
    });
  };

  await start();
  return {
    endpoint,
    dataDir,
    region,
    pid: () => child?.pid ?? null,
    output: () => out,
    aws,
    awsJson: async <T>(args: string[]) => {
      const r = await aws(args);
      const text = r.stdout.toString('utf8').trim();
      return (text ? JSON.parse(text) : {}) as T;
    },
    kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
      child?.kill(signal);
      await exited;
      child = null;
    },
    start,
    stop: async () => {
      if (child) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child?.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
        child = null;
      }
      killAll(recordedPids(dataDir));
      liveDirs.delete(dataDir);
      if (!process.env.KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
      else process.stderr.write(`[harness] keeping ${dataDir}\n`);
    },
  };
}
