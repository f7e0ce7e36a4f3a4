/**
 * Test harness for a local Fjord cluster: a controller (unless standalone) and N broker
 * processes, through src/cluster/local-cluster.ts.
 *
 * startCluster() creates a temporary data directory, lets the OS choose the ports, starts every
 * process and waits for their ready lines. Each process's stdout/stderr is in
 * `<dataDir>/<role>-<id>/process.log`; logTail(id) and explain() show it when a test fails.
 * Unlike a production cluster, the supervisor does not restart crashed brokers by default
 * (autoRestart: false), so a test decides when a killed broker comes back (restart(id)).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  LocalCluster,
  type ClusterOptions,
  type MemberRef,
  type MetadataSpec,
  type ProcessStatus,
} from '../../src/cluster/local-cluster.js';
import { BROKER_ENTRY } from './paths.js';

export interface StartClusterOptions {
  /** Default 3. */
  brokers?: number;
  /** Their ids; default 1..brokers. */
  brokerIds?: number[];
  /** Zone count or names; default 3 (az-1..az-3). */
  zones?: number | string[];
  /**
   * Default from FJORD_TEST_METADATA ('standalone' or 'embedded'); otherwise embedded (one
   * controller process) when the build has the `fjord controller` command, else standalone
   * (every broker its own single-broker cluster).
   */
  metadata?: MetadataSpec;
  /** Passed to every broker as `--set key=value`. */
  brokerSettings?: Record<string, string>;
  /** Restart processes that exit unasked; default false in tests. */
  autoRestart?: boolean;
  /** Health probes; default off in tests. */
  healthCheck?: ClusterOptions['healthCheck'];
  /** How long each process may take to print its ready line; default 30 s. */
  readyTimeoutMs?: number;
  /** SIGTERM grace before SIGKILL; default 15 s. */
  stopTimeoutMs?: number;
  /** Any other LocalCluster option (backoff, env, logger, ...). */
  clusterOptions?: ClusterOptions;
  /** Cluster name; default 'test'. */
  name?: string;
}

export interface ClusterHandle {
  cluster: LocalCluster;
  /** "host:port,host:port,..." of every broker. */
  bootstrap: string;
  /** "host:port,..." of the controllers ('' when standalone). */
  controllerEndpoints: string;
  brokerIds: number[];
  dataDir: string;
  /** The status of one broker (port, zone, pid, state...). */
  broker(id: number): ProcessStatus;
  /** Sends a signal (default SIGKILL, a crash) and, for SIGKILL/SIGTERM/SIGINT, waits for the exit. */
  kill(id: number, signal?: NodeJS.Signals): Promise<void>;
  /** Graceful restart (or start, if it is down) on the same port and data dir; waits for ready. */
  restart(id: number): Promise<void>;
  /** Stops every process and removes the data dir (kept with KEEP_TEST_DATA=1). */
  stop(): Promise<void>;
  /** Last lines of a broker's (or {role:'controller', id}) stdout/stderr and supervisor notes. */
  logTail(id: MemberRef, lines?: number): string;
  /** Runs fn; on failure prints the log tail of every process and rethrows. */
  explain<T>(fn: () => Promise<T>): Promise<T>;
}

const live = new Set<LocalCluster>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // The processes are detached (they would outlive this one): never leave one behind.
  process.on('exit', () => {
    for (const cluster of live) {
      for (const p of cluster.status()) {
        if (p.pid === null) continue;
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  });
}

function keepData(): boolean {
  return process.env.KEEP_TEST_DATA === '1' || !!process.env.FJORD_TEST_KEEP_TMP;
}

function defaultMetadata(): MetadataSpec {
  const mode = process.env.FJORD_TEST_METADATA;
  if (mode === 'embedded') return { mode: 'embedded' };
  if (mode === 'standalone') return { mode: 'standalone' };
  if (mode) throw new Error(`FJORD_TEST_METADATA: standalone or embedded, got '${mode}'`);
  const hasController = existsSync(join(dirname(BROKER_ENTRY), 'controller-command.js'));
  return hasController ? { mode: 'embedded' } : { mode: 'standalone' };
}

export async function startCluster(opts: StartClusterOptions = {}): Promise<ClusterHandle> {
  installExitHook();
  if (!existsSync(BROKER_ENTRY)) {
    throw new Error(`Fjord entry point not found: ${BROKER_ENTRY}. Build it first (npx tsc -p .).`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'fjord-cluster-'));
  const removeDir = () => {
    if (keepData()) {
      process.stderr.write(`[harness] keeping ${dataDir}\n`);
      return;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };

  let cluster: LocalCluster;
  try {
    cluster = await LocalCluster.create(
      {
        name: opts.name ?? 'test',
        dataDir,
        brokers: opts.brokers ?? 3,
        ...(opts.brokerIds ? { brokerIds: opts.brokerIds } : {}),
        zones: opts.zones ?? 3,
        metadata: opts.metadata ?? defaultMetadata(),
        brokerSettings: opts.brokerSettings ?? {},
      },
      {
        autoRestart: opts.autoRestart ?? false,
        healthCheck: opts.healthCheck ?? false,
        readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
        stopTimeoutMs: opts.stopTimeoutMs ?? 15_000,
        ...opts.clusterOptions,
      },
    );
  } catch (e) {
    removeDir();
    throw e;
  }
  live.add(cluster);
  try {
    await cluster.start();
  } catch (e) {
    live.delete(cluster);
    removeDir();
    throw e;
  }

  const allTails = () =>
    cluster
      .status()
      .map((p) => `----- ${p.role} ${p.id} (${p.state}, ${p.logFile}) -----\n${cluster.logTail({ role: p.role, id: p.id }, 40)}`)
      .join('\n');

  let stopped = false;
  const handle: ClusterHandle = {
    cluster,
    bootstrap: cluster.bootstrap,
    controllerEndpoints: cluster.controllerEndpoints,
    brokerIds: cluster.brokerIds,
    dataDir,
    broker: (id) => cluster.process(id),
    kill: (id, signal = 'SIGKILL') => cluster.kill(id, signal),
    restart: (id) => cluster.restart(id),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      // On failure the cluster stays in `live`: the exit hook SIGKILLs what is left.
      await cluster.stop();
      live.delete(cluster);
      removeDir();
    },
    logTail: (id, lines = 60) => cluster.logTail(id, lines),
    explain: async <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (e) {
        process.stderr.write(`\n----- Fjord cluster logs (${dataDir}) -----\n${allTails()}\n----- end of cluster logs -----\n`);
        throw e;
      }
    },
  };
  return handle;
}
