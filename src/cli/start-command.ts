// `fjord start`: a local cluster (controller(s) and broker processes) in the foreground, supervised,
// until Ctrl-C or SIGTERM. A thin layer over src/cluster/local-cluster.ts.

import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { LocalCluster, type ClusterOptions, type MetadataSpec } from '../cluster/local-cluster.js'
import { hasClusterFile } from '../cluster/spec.js'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, intArg, table } from './common.js'

export const START_USAGE = `Usage: fjord start [options]

Runs a local cluster in the foreground: a controller (several with ZooKeeper) and broker
processes, each with its own data directory under --data-dir and a zone (broker.rack); brokers
are spread over the zones round-robin. A supervisor restarts a process that exits without being
asked to (back-off 0.5 s doubling to 30 s) or stops answering. Ctrl-C or SIGTERM stops the
cluster cleanly (brokers first, then controllers); a second one kills every process at once.

Options:
  --brokers N                 brokers, ids 1..N (default 3)
  --zones N                   zones az-1..az-N (default 3)
  --data-dir DIR              where cluster.json and every process's directory live (default ./data)
  --metadata MODE             embedded: one controller process keeping the metadata (default);
                              zookeeper: --controllers candidates sharing --zookeeper-connect;
                              standalone: no controller, every broker its own single-broker
                              cluster (development only)
  --zookeeper-connect HOSTS   host:port[,host:port][/chroot] (implies --metadata zookeeper)
  --controllers N             controller candidates in zookeeper mode (default 3)
  --port-base N               brokers listen on N, N+1, ..., controllers on the ports after
                              them (default 9092; 0 picks free ports)
  --set KEY=VALUE             a setting for every broker; repeatable
  --name NAME                 the cluster's name (default local)
  --no-restart                leave processes that exit down
  --no-health-check           do not probe running processes
  --log-level LEVEL           trace, debug, info, warn, error: the supervisor's log (stderr) and
                              the processes' (FJORD_LOG_LEVEL); default info
  -h, --help                  this help

Each process writes its output to <data-dir>/<broker|controller>-<id>/process.log. A data
directory that already holds a cluster is started again with its own brokers and ports (clients'
bootstrap lists stay valid); processes of it that still run are adopted, not started twice.
`

interface Parsed {
  options: ClusterOptions
  dataDir: string
  brokers: number | undefined
  zones: number | undefined
  metadata: MetadataSpec | undefined
  portBase: number | undefined
  name: string | undefined
  settings: Record<string, string> | undefined
  logLevel: string
}

function parse(argv: string[]): Parsed | 'help' {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        brokers: { type: 'string' },
        zones: { type: 'string' },
        'data-dir': { type: 'string' },
        metadata: { type: 'string' },
        'zookeeper-connect': { type: 'string' },
        controllers: { type: 'string' },
        'port-base': { type: 'string' },
        set: { type: 'string', multiple: true },
        name: { type: 'string' },
        'no-restart': { type: 'boolean' },
        'no-health-check': { type: 'boolean' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }))
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (values.help) return 'help'
  const zk = values['zookeeper-connect']
  const mode = values.metadata ?? (zk !== undefined ? 'zookeeper' : undefined)
  let metadata: MetadataSpec | undefined
  switch (mode) {
    case undefined:
      break
    case 'embedded':
    case 'standalone':
      if (zk !== undefined) throw new UsageError(`--zookeeper-connect goes with --metadata zookeeper, not ${mode}`)
      metadata = { mode }
      break
    case 'zookeeper':
      if (!zk) throw new UsageError('--metadata zookeeper needs --zookeeper-connect host:port[,host:port][/chroot]')
      metadata = { mode: 'zookeeper', connect: zk, controllers: values.controllers === undefined ? 3 : intArg(values.controllers, '--controllers', 1, 99) }
      break
    default:
      throw new UsageError(`--metadata must be embedded, zookeeper or standalone, not '${mode}'`)
  }
  if (values.controllers !== undefined && mode !== 'zookeeper') throw new UsageError('--controllers is for --metadata zookeeper')
  let settings: Record<string, string> | undefined
  if (values.set) {
    settings = {}
    for (const kv of values.set) {
      const i = kv.indexOf('=')
      if (i <= 0) throw new UsageError(`--set expects KEY=VALUE, got '${kv}'`)
      settings[kv.slice(0, i)] = kv.slice(i + 1)
    }
  }
  const logLevel = values['log-level'] ?? process.env.FJORD_LOG_LEVEL ?? 'info'
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) throw new UsageError(`--log-level: unknown level '${logLevel}'`)
  return {
    options: {
      autoRestart: !values['no-restart'],
      ...(values['no-health-check'] ? { healthCheck: false as const } : {}),
      ...(values['log-level'] ? { env: { FJORD_LOG_LEVEL: logLevel } } : {}),
    },
    dataDir: values['data-dir'] ?? './data',
    brokers: values.brokers === undefined ? undefined : intArg(values.brokers, '--brokers', 1, 1000),
    zones: values.zones === undefined ? undefined : intArg(values.zones, '--zones', 1, 100),
    metadata,
    portBase: values['port-base'] === undefined ? undefined : intArg(values['port-base'], '--port-base', 0, 65535),
    name: values.name,
    settings,
    logLevel,
  }
}

/** An existing cluster must not be asked to become something else. */
function checkSame(cluster: LocalCluster, p: Parsed): void {
  const clash = (flag: string, given: unknown, has: unknown) => {
    throw new UsageError(`${cluster.dataDir} holds cluster '${cluster.name}' with ${flag} ${String(has)}, not ${String(given)}; use another --data-dir for a different cluster`)
  }
  if (p.brokers !== undefined && p.brokers !== cluster.brokerIds.length) clash('--brokers', p.brokers, cluster.brokerIds.length)
  if (p.zones !== undefined && p.zones !== cluster.zones.length) clash('--zones', p.zones, cluster.zones.length)
  if (p.name !== undefined && p.name !== cluster.name) clash('--name', p.name, cluster.name)
  if (p.metadata !== undefined && JSON.stringify(p.metadata) !== JSON.stringify(cluster.metadata)) {
    clash('metadata', JSON.stringify(p.metadata), JSON.stringify(cluster.metadata))
  }
}

export async function runStartCommand(argv: string[]): Promise<number> {
  let parsed: Parsed | 'help'
  try {
    parsed = parse(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`fjord: ${err.message}\nRun 'fjord start --help' for usage.\n`)
    return EXIT_USAGE
  }
  if (parsed === 'help') {
    process.stdout.write(START_USAGE)
    return EXIT_OK
  }
  const p = parsed
  const log = pino({ level: p.logLevel, base: { component: 'cluster' } }, pino.destination(2))
  const options: ClusterOptions = { ...p.options, logger: log }
  const started = performance.now()

  let cluster: LocalCluster
  try {
    if (hasClusterFile(p.dataDir)) {
      cluster = await LocalCluster.adopt(p.dataDir, options)
      try {
        checkSame(cluster, p)
        if (p.portBase !== undefined) log.warn({ portBase: p.portBase }, 'the cluster keeps its ports; --port-base ignored')
        if (p.settings) cluster.setBrokerSettings(p.settings)
      } catch (err) {
        cluster.detach()
        throw err
      }
      const adopted = cluster.status().filter((s) => s.adopted).length
      if (adopted > 0) log.info({ processes: adopted }, 'adopted running processes')
    } else {
      const portBase = p.portBase ?? 9092
      cluster = await LocalCluster.create(
        {
          name: p.name ?? 'local',
          dataDir: p.dataDir,
          brokers: p.brokers ?? 3,
          zones: p.zones ?? 3,
          metadata: p.metadata ?? { mode: 'embedded' },
          brokerSettings: { ...clusterDefaults(p.brokers ?? 3), ...(p.settings ?? {}) },
          ...(portBase === 0 ? {} : { ports: { base: portBase } }),
        },
        options,
      )
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`fjord: ${err.message}\n`)
      return EXIT_USAGE
    }
    process.stderr.write(`fjord: ${(err as Error).message}\n`)
    return EXIT_FAILED
  }

  // Signals first: a Ctrl-C while the cluster starts must stop what was started.
  const keepAlive = setInterval(() => {}, 1 << 30)
  let signals = 0
  let resolveDone!: (code: number) => void
  const done = new Promise<number>((resolve) => (resolveDone = resolve))
  let stopping: Promise<void> | null = null
  const shutdown = (signal: string) => {
    signals++
    if (signals > 1) {
      log.warn({ signal }, 'second signal: killing every process')
      void cluster.stop({ force: true }).catch(() => {})
      return
    }
    log.info({ signal }, 'stopping the cluster')
    stopping = cluster.stop().then(
      () => {
        process.stdout.write(`Fjord cluster ${cluster.name} stopped\n`)
        resolveDone(EXIT_OK)
      },
      (err: unknown) => {
        log.error({ err }, 'unclean stop')
        resolveDone(EXIT_FAILED)
      },
    )
  }
  const onInt = () => shutdown('SIGINT')
  const onTerm = () => shutdown('SIGTERM')
  process.on('SIGINT', onInt)
  process.on('SIGTERM', onTerm)

  try {
    await cluster.start()
    if (stopping === null) {
      const ms = (performance.now() - started).toFixed(0)
      process.stdout.write(`Fjord cluster ${cluster.name} ready: bootstrap ${cluster.bootstrap} (data in ${p.dataDir}, started in ${ms} ms)\n`)
      if (cluster.controllerEndpoints) process.stdout.write(`controllers: ${cluster.controllerEndpoints}\n`)
      process.stdout.write(
        table(
          ['ROLE', 'ID', 'ZONE', 'ADDRESS', 'PID'],
          cluster.status().map((s) => [s.role, s.id, s.zone, s.address, s.pid]),
        ),
      )
    }
  } catch (err) {
    if (stopping === null) {
      // start() has stopped whatever it started.
      process.stderr.write(`fjord: ${(err as Error).message}\n`)
      resolveDone(EXIT_FAILED)
    }
  }
  const code = await done
  clearInterval(keepAlive)
  process.off('SIGINT', onInt)
  process.off('SIGTERM', onTerm)
  log.flush()
  return code
}

/**
 * MSK's defaults for a multi-zone cluster: new topics (and the internal ones) get three
 * replicas and acks=all needs two of them, so a zone can go without losing acknowledged data.
 */
function clusterDefaults(brokers: number): Record<string, string> {
  const rf = String(Math.min(3, brokers))
  const minIsr = String(Math.max(1, Math.min(2, brokers - 1)))
  return {
    'default.replication.factor': rf,
    'min.insync.replicas': minIsr,
    'offsets.topic.replication.factor': rf,
    'transaction.state.log.replication.factor': rf,
    'transaction.state.log.min.isr': minIsr,
  }
}
