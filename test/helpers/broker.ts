/**
 * Test harness for the Fjord broker process.
 *
 * startBroker() spawns `node dist/src/cli/main.js broker --listen 127.0.0.1:<port> --data-dir <dir>`
 * and waits for the stdout line that contains `ready` and the bootstrap address. The broker's
 * stdout and stderr go to a log file whose tail is printed when a test fails (see explain()).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BROKER_ENTRY, REPO_ROOT } from './paths.js';

export interface StartBrokerOptions {
  /** Reuse an existing data directory (it is then not removed by stop()). */
  dataDir?: string;
  /** Broker settings passed as repeated `--set key=value`. */
  settings?: Record<string, string>;
  /** Port to listen on; 0 (default) lets the OS choose. */
  port?: number;
  /** How long to wait for the `ready` line. */
  readyTimeoutMs?: number;
}

export interface BrokerHandle {
  /** "host:port" */
  bootstrap: string;
  host: string;
  port: number;
  dataDir: string;
  pid: number;
  logFile: string;
  /** SIGTERM and wait for the process to exit (SIGKILL after a grace period). Removes temp dirs. */
  stop(): Promise<void>;
  /** SIGKILL (a crash) and wait for the exit. Keeps the data dir for restart(). */
  kill(): Promise<void>;
  /** Stops the broker if it runs (SIGTERM) and starts it again on the same data dir. */
  restart(): Promise<void>;
  /** Last lines of the broker's combined stdout/stderr. */
  logTail(lines?: number): string;
  /** Runs fn; on failure prints the broker log tail and rethrows. */
  explain<T>(fn: () => Promise<T>): Promise<T>;
  /** Exit info of the last process, if it exited. */
  exitInfo(): { code: number | null; signal: NodeJS.Signals | null } | null;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Never leave a broker behind when the test process goes away.
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* ignore */
      }
    }
  });
}

const READY_RE = /ready/i;
const ADDR_RE = /(\d{1,3}(?:\.\d{1,3}){3}|localhost|\[[0-9a-f:]+\]):(\d{1,5})/i;

function tailOf(file: string, lines: number): string {
  try {
    const text = readFileSync(file, 'utf8');
    const all = text.split('\n');
    return all.slice(Math.max(0, all.length - lines - 1)).join('\n');
  } catch (e) {
    return `(no broker log at ${file}: ${(e as Error).message})`;
  }
}

export async function startBroker(opts: StartBrokerOptions = {}): Promise<BrokerHandle> {
  installExitHook();
  if (!existsSync(BROKER_ENTRY)) {
    throw new Error(
      `Fjord broker entry point not found: ${BROKER_ENTRY}. Build it first (npx tsc -p .); ` +
        `the broker CLI (src/cli/main.ts) may not exist yet.`,
    );
  }
  const workDir = mkdtempSync(join(tmpdir(), 'fjord-interop-'));
  const ownDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? join(workDir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const logFile = join(workDir, 'broker.log');
  const settings = opts.settings ?? {};
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;

  let child: ChildProcess | null = null;
  let lastExit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let exited: Promise<void> = Promise.resolve();

  const handle: BrokerHandle = {
    bootstrap: '',
    host: '127.0.0.1',
    port: 0,
    dataDir,
    pid: 0,
    logFile,
    stop: async () => {
      await terminate('SIGTERM', 15_000);
      cleanup();
    },
    kill: async () => {
      await terminate('SIGKILL', 10_000);
    },
    restart: async () => {
      if (child) await terminate('SIGTERM', 15_000);
      const oldPort = handle.port;
      try {
        await spawnOnce(oldPort);
      } catch (e) {
        // The old port may be taken meanwhile (TIME_WAIT is fine for listen, but another test may
        // have grabbed it): fall back to an OS-chosen port.
        appendLog(`\n[harness] restart on port ${oldPort} failed (${(e as Error).message}); retrying on port 0\n`);
        await spawnOnce(0);
      }
    },
    logTail: (lines = 60) => tailOf(logFile, lines),
    explain: async <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (e) {
        process.stderr.write(
          `\n----- Fjord broker log tail (${logFile}) -----\n${handle.logTail(80)}\n----- end of broker log -----\n`,
        );
        throw e;
      }
    },
    exitInfo: () => lastExit,
  };

  function appendLog(text: string): void {
    try {
      const fd = openSync(logFile, 'a');
      writeSync(fd, text);
      closeSync(fd);
    } catch {
      /* ignore */
    }
  }

  function cleanup(): void {
    if (process.env.FJORD_TEST_KEEP_TMP) {
      process.stderr.write(`[harness] keeping ${workDir}\n`);
      return;
    }
    try {
      rmSync(workDir, { recursive: true, force: true });
      if (!ownDataDir) {
        /* caller's data dir: left alone */
      }
    } catch {
      /* ignore */
    }
  }

  async function terminate(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const c = child;
    if (!c) return;
    if (c.exitCode === null && c.signalCode === null) {
      c.kill(signal);
      const timer = setTimeout(() => {
        appendLog(`\n[harness] broker did not exit ${graceMs} ms after ${signal}; sending SIGKILL\n`);
        c.kill('SIGKILL');
      }, graceMs);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
    }
    child = null;
  }

  function spawnOnce(port: number): Promise<void> {
    return new Promise<void>((resolveReady, rejectReady) => {
      const args = [BROKER_ENTRY, 'broker', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir];
      for (const [k, v] of Object.entries(settings)) args.push('--set', `${k}=${v}`);
      appendLog(`\n[harness] ${new Date().toISOString()} starting: node ${args.join(' ')}\n`);
      const logFd = openSync(logFile, 'a');
      const c = spawn(process.execPath, args, {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', logFd],
        env: { ...process.env },
      });
      closeSync(logFd);
      child = c;
      live.add(c);
      let settled = false;
      let buffered = '';
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        c.kill('SIGKILL');
        rejectReady(
          new Error(
            `Fjord broker did not print a 'ready' line within ${readyTimeoutMs} ms.\n` +
              `--- broker log tail ---\n${tailOf(logFile, 40)}`,
          ),
        );
      }, readyTimeoutMs);
      exited = new Promise<void>((resolveExit) => {
        c.on('exit', (code, signal) => {
          lastExit = { code, signal };
          live.delete(c);
          appendLog(`\n[harness] broker pid ${c.pid} exited code=${code} signal=${signal}\n`);
          resolveExit();
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            // Give the log a moment to be flushed by the OS, then report.
            rejectReady(
              new Error(
                `Fjord broker exited before it was ready (code=${code}, signal=${signal}).\n` +
                  `--- broker log tail ---\n${tailOf(logFile, 40)}`,
              ),
            );
          }
        });
      });
      c.on('error', (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        rejectReady(new Error(`failed to spawn the Fjord broker: ${err.message}`));
      });
      c.stdout!.setEncoding('utf8');
      c.stdout!.on('data', (chunk: string) => {
        appendLog(chunk);
        if (settled) return;
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (!READY_RE.test(line)) continue;
          const m = ADDR_RE.exec(line);
          if (!m) continue;
          settled = true;
          clearTimeout(timer);
          handle.host = m[1] === 'localhost' ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '');
          handle.port = Number(m[2]);
          handle.bootstrap = `${handle.host}:${handle.port}`;
          handle.pid = c.pid ?? 0;
          // Do not keep the test process alive because of the broker: the after() hooks stop it.
          c.unref();
          (c.stdout as unknown as { unref?: () => void }).unref?.();
          resolveReady();
          return;
        }
      });
    });
  }

  try {
    await spawnOnce(opts.port ?? 0);
  } catch (e) {
    cleanup();
    throw e;
  }
  return handle;
}
