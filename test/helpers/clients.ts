/**
 * Running the external (non-Node) Kafka clients: kcat and the Debian Python clients.
 * Every run has a timeout; a missing client is an error (CI installs them), never a skip.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_SCRIPTS_DIR, REPO_ROOT } from './paths.js';

export const PYTHON = '/usr/bin/python3';
export const KCAT = 'kcat';

export interface RunOptions {
  timeoutMs?: number;
  /** Data written to stdin (then closed). Without it stdin is closed immediately. */
  input?: Buffer | string;
  env?: Record<string, string>;
  /** Called for each complete stdout line as it arrives (the line has no trailing newline). */
  onLine?: (line: string) => void;
  /** Reject when the exit code is not 0 (default true). */
  check?: boolean;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  command: string;
}

export class ProcessError extends Error {
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
  }
}

function tail(text: string, max = 4000): string {
  return text.length > max ? '…' + text.slice(text.length - max) : text;
}

export function describeRun(r: RunResult): string {
  const out = r.stdout.toString('utf8');
  return (
    `command: ${r.command}\nexit: code=${r.code} signal=${r.signal}\n` +
    `--- stderr (tail) ---\n${tail(r.stderr)}\n--- stdout (tail) ---\n${tail(out, 2000)}`
  );
}

const INSTALL_HINT =
  'apt-get install -y kcat python3-confluent-kafka python3-kafka python3-snappy python3-lz4 python3-zstandard';

export function runProcess(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const command = [cmd, ...args.map((a) => (/[\s'"\\]/.test(a) ? JSON.stringify(a) : a))].join(' ');
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...(opts.env ?? {}) },
    });
    const out: Buffer[] = [];
    let err = '';
    let lineBuf = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      out.push(b);
      if (opts.onLine) {
        lineBuf += b.toString('utf8');
        let nl: number;
        while ((nl = lineBuf.indexOf('\n')) >= 0) {
          const line = lineBuf.slice(0, nl);
          lineBuf = lineBuf.slice(nl + 1);
          try {
            opts.onLine(line);
          } catch (e) {
            process.stderr.write(`onLine callback threw: ${(e as Error).stack}\n`);
          }
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      err += s;
      if (err.length > 1_000_000) err = err.slice(err.length - 500_000);
    });
    child.stdin.on('error', () => {
      /* EPIPE when the child exits early: reported through the exit code */
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT') {
        reject(new Error(`client executable not found: ${cmd}. The interop suite needs it; install with: ${INSTALL_HINT}`));
      } else {
        reject(new Error(`failed to run ${command}: ${e.message}`));
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (opts.onLine && lineBuf.length > 0) opts.onLine(lineBuf);
      const result: RunResult = { code, signal, stdout: Buffer.concat(out), stderr: err, command };
      if (timedOut) {
        reject(new ProcessError(`timed out after ${timeoutMs} ms\n${describeRun(result)}`, result));
        return;
      }
      if ((opts.check ?? true) && code !== 0) {
        reject(new ProcessError(`client exited with code ${code} (signal ${signal})\n${describeRun(result)}`, result));
        return;
      }
      resolve(result);
    });
    if (opts.input !== undefined) {
      child.stdin.end(opts.input);
    } else {
      child.stdin.end();
    }
  });
}

/** Runs kcat with the given arguments. */
export function runKcat(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runProcess(KCAT, args, opts);
}

/** Runs test/interop/clients/<script> with Debian's /usr/bin/python3. */
export function runPython(script: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const path = join(CLIENT_SCRIPTS_DIR, script);
  if (!existsSync(path)) return Promise.reject(new Error(`python client script missing: ${path}`));
  return runProcess(PYTHON, ['-u', path, ...args], {
    ...opts,
    env: { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', ...(opts.env ?? {}) },
  });
}

/** Fails (never skips) when a Debian client is missing. */
export async function requireKcat(): Promise<string> {
  const r = await runProcess(KCAT, ['-V'], { timeoutMs: 15_000, check: false });
  const text = r.stdout.toString() + r.stderr;
  if (!/kcat|kafkacat/i.test(text)) throw new Error(`kcat -V printed something unexpected:\n${text}`);
  return text.trim().split('\n')[0];
}

export async function requirePythonModule(module: 'confluent_kafka' | 'kafka'): Promise<string> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found; install with: ${INSTALL_HINT}`);
  const expr =
    module === 'confluent_kafka'
      ? 'import confluent_kafka as m; print(m.version()[0], m.libversion()[0])'
      : 'import kafka as m, snappy, lz4, zstandard; print(m.__version__)';
  const r = await runProcess(PYTHON, ['-c', expr], { timeoutMs: 30_000, check: false });
  if (r.code !== 0) {
    throw new Error(`python module ${module} (or its codecs) is not importable with ${PYTHON}: ${r.stderr.trim()}\ninstall with: ${INSTALL_HINT}`);
  }
  return r.stdout.toString().trim();
}
