/**
 * ZooKeeper for tests. `zookeeperForTest()` gives a connect string and a root znode of its own:
 *
 * - FJORD_TEST_ZOOKEEPER=host:port set (CI: .ci/run starts one with scripts/zookeeper.sh and sets
 *   it): that server is used; stop() deletes the root znode.
 * - otherwise a private standalone server is started on a free port in a temp dir (Debian's
 *   `zookeeper` package, via scripts/zookeeper.sh), shared by the calls of this process that
 *   overlap, and stopped by the stop() of the last one (or when the process exits).
 *
 * A missing ZooKeeper is an error, never a skip (like the missing clients in clients.ts).
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { freePort } from './util.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zookeeper from 'node-zookeeper-client';
import type { Client, Option } from 'node-zookeeper-client';
import { REPO_ROOT } from './paths.js';

export const ZOOKEEPER_ENV = 'FJORD_TEST_ZOOKEEPER';
export const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
const SCRIPT = join(REPO_ROOT, 'scripts', 'zookeeper.sh');

export interface ZooKeeperForTest {
  /** host:port */
  connectString: string;
  /** a root znode no other call returns, e.g. /fjord-test-1234-9f3a0c21 (not created) */
  root: string;
  /** Deletes the root's znodes; stops the private server when this was its last user. */
  stop(): Promise<void>;
}

interface PrivateServer {
  dir: string;
  connectString: string;
  users: number;
}

let server: PrivateServer | null = null;
let starting: Promise<PrivateServer> | null = null;
let stopping: Promise<void> = Promise.resolve();

export async function zookeeperForTest(): Promise<ZooKeeperForTest> {
  const root = `/fjord-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  const external = process.env[ZOOKEEPER_ENV];
  if (external) {
    return { connectString: external, root, stop: once(() => removeTree(external, root)) };
  }
  const s = await acquire();
  return {
    connectString: s.connectString,
    root,
    stop: once(async () => {
      await removeTree(s.connectString, root).catch(() => {});
      await release(s);
    }),
  };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | null = null;
  return () => (p ??= fn());
}

/** Throws when ZooKeeper (Debian's package, and java) is not installed. */
export function requireZooKeeper(): void {
  const java = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (existsSync(ZOOKEEPER_JAR) && java.status === 0) return;
  const missing = existsSync(ZOOKEEPER_JAR) ? 'java' : ZOOKEEPER_JAR;
  if (process.env.CI === 'true') {
    throw new Error(
      `ZooKeeper is not installed (${missing} missing) and ${ZOOKEEPER_ENV} is not set: CI must install it ` +
        `(./scripts/install-test-deps.sh installs Debian's zookeeper) and .ci/run starts one`,
    );
  }
  throw new Error(
    `ZooKeeper is not installed (${missing} missing): the controller's ZooKeeper tests need it. ` +
      `Run ./scripts/install-test-deps.sh (it apt-installs Debian's zookeeper), ` +
      `or set ${ZOOKEEPER_ENV}=host:port to use a running server`,
  );
}

async function acquire(): Promise<PrivateServer> {
  await stopping;
  if (server) {
    server.users++;
    return server;
  }
  starting ??= startPrivate().finally(() => {
    starting = null;
  });
  const s = await starting;
  server = s;
  s.users++;
  return s;
}

async function release(s: PrivateServer): Promise<void> {
  if (--s.users > 0) return;
  if (server === s) server = null;
  stopping = (async () => {
    await runScript(['stop', s.dir]).catch(() => {});
    rmSync(s.dir, { recursive: true, force: true });
    exitKills.delete(s.dir);
  })();
  await stopping;
}

/** Private servers still running: killed if the process exits without stopping them. */
const exitKills = new Set<string>();
process.on('exit', () => {
  for (const dir of exitKills) {
    try {
      process.kill(Number(readFileSync(join(dir, 'zookeeper.pid'), 'utf8')), 'SIGKILL');
    } catch {
      /* gone */
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

async function startPrivate(): Promise<PrivateServer> {
  requireZooKeeper();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'fjord-zookeeper-'));
    const port = await freePort();
    exitKills.add(dir);
    try {
      await runScript(['start', dir, String(port)]);
      return { dir, connectString: `127.0.0.1:${port}`, users: 0 };
    } catch (e) {
      lastError = e; // most likely the port was taken meanwhile: another one
      exitKills.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  throw lastError;
}

function runScript(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(SCRIPT, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`scripts/zookeeper.sh ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Deletes a znode and everything under it (best effort, a few seconds at most). */
export async function removeTree(connectString: string, root: string): Promise<void> {
  const client = await connectClient(connectString, 10_000);
  try {
    await deleteRecursive(client, root);
  } finally {
    client.close();
  }
}

/** A connected raw client (for tests that play a third party). */
export function connectClient(connectString: string, timeoutMs = 10_000, options: Partial<Option> & { sessionId?: Buffer; sessionPassword?: Buffer } = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = zookeeper.createClient(connectString, { sessionTimeout: 10_000, spinDelay: 200, ...options });
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`cannot connect to ZooKeeper at ${connectString} within ${timeoutMs} ms`));
    }, timeoutMs);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.connect();
  });
}

function deleteRecursive(client: Client, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.getChildren(path, (err, children) => {
      if (err) {
        if ((err as { code?: number }).code === zookeeper.Exception.NO_NODE) resolve();
        else reject(err);
        return;
      }
      Promise.all(children.map((c) => deleteRecursive(client, `${path}/${c}`)))
        .then(
          () =>
            new Promise<void>((res, rej) =>
              client.remove(path, -1, (e) => (e && (e as { code?: number }).code !== zookeeper.Exception.NO_NODE ? rej(e) : res())),
            ),
        )
        .then(resolve, reject);
    });
  });
}
