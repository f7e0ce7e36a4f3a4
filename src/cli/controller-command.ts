// `fjord controller`: a controller process. Embedded mode (default): the one controller, its
// metadata log in --log-dirs. ZooKeeper mode (--zookeeper-connect): one of several candidates;
// they elect the active one through ZooKeeper, which also holds the metadata log, and the others
// wait to take over. Brokers name every candidate in controller.endpoints; a standby answers
// them NOT_CONTROLLER with the active one's address.

import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { pino } from 'pino'
import { Controller } from '../controller/controller.js'
import { EmbeddedBackend } from '../controller/embedded-backend.js'
import { ZooKeeperBackend } from '../controller/zookeeper-backend.js'
import { ControllerServer } from '../controller/rpc.js'
import type { MetadataLogBackend } from '../controller/backend.js'

export const CONTROLLER_USAGE = `Usage: fjord controller [options]

Runs a controller: the process that owns the cluster metadata (brokers, topics, leaders, ISR).

Options:
  --controller-id N              this candidate's id (default 0)
  --listeners HOST:PORT          where brokers reach it (default 127.0.0.1:9093; port 0 picks one)
  --log-dirs DIR                 its directory (embedded mode: the metadata log; default ./data/controller)
  --zookeeper-connect H:P[,H:P][/root]
                                 ZooKeeper mode: elect the active controller and keep the metadata there
  --cluster-id ID                the cluster id to create the metadata with
  --set KEY=VALUE                broker.session.timeout.ms (6000), unclean.leader.election.enable (false),
                                 leader.imbalance.check.interval.seconds (30), auto.leader.rebalance.enable (true)
  --log-level LEVEL              pino level (default info)
`

export async function runController(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'controller-id': { type: 'string' },
      listeners: { type: 'string' },
      'log-dirs': { type: 'string' },
      'zookeeper-connect': { type: 'string' },
      'cluster-id': { type: 'string' },
      set: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(CONTROLLER_USAGE)
    return
  }
  const settings: Record<string, string> = {}
  for (const kv of values.set ?? []) {
    const i = kv.indexOf('=')
    if (i <= 0) throw new Error(`--set expects KEY=VALUE, got '${kv}'`)
    settings[kv.slice(0, i)] = kv.slice(i + 1)
  }
  const num = (name: string, def: number) => {
    const v = settings[name] === undefined ? def : Number(settings[name])
    if (!Number.isInteger(v) || v < 0) throw new Error(`${name}=${settings[name]}: must be a non-negative integer`)
    return v
  }
  const id = Number(values['controller-id'] ?? '0')
  if (!Number.isInteger(id) || id < 0) throw new Error(`--controller-id ${values['controller-id']}: must be a non-negative integer`)
  const listen = values.listeners ?? '127.0.0.1:9093'
  const m = /^(?:[A-Z_]+:\/\/)?\[?([^\]]*?)\]?:(\d+)$/.exec(listen)
  if (!m) throw new Error(`--listeners ${listen}: expected host:port`)
  const host = m[1] || '0.0.0.0'
  const dir = values['log-dirs'] ?? './data/controller'
  const log = pino({ level: values['log-level'] ?? process.env.FJORD_LOG_LEVEL ?? 'info', base: { controller: id } }, pino.destination(2))

  const zk = values['zookeeper-connect']
  let backend: MetadataLogBackend
  if (zk) {
    const slash = zk.indexOf('/')
    backend = new ZooKeeperBackend(slash >= 0 ? zk.slice(0, slash) : zk, { root: slash >= 0 ? zk.slice(slash) : '/fjord', sessionTimeoutMs: num('zookeeper.session.timeout.ms', 6000) })
  } else backend = new EmbeddedBackend(join(dir, 'metadata'))

  // Listen first so the endpoint is known before campaigning (ZooKeeper records it for redirects).
  const candidate = { id, endpoint: '' }
  const controller = new Controller(backend, candidate, {
    clusterId: values['cluster-id'] ?? '',
    sessionTimeoutMs: num('broker.session.timeout.ms', 6000),
    uncleanLeaderElection: settings['unclean.leader.election.enable'] === 'true',
    leaderImbalanceCheckIntervalMs: settings['auto.leader.rebalance.enable'] === 'false' ? 0 : num('leader.imbalance.check.interval.seconds', 30) * 1000,
    log,
  })
  const server = new ControllerServer(controller, async () => (await backend.active())?.endpoint ?? null)
  await server.listen(host, Number(m[2]))
  const endpoint = `${host === '0.0.0.0' ? '127.0.0.1' : host}:${server.port}`
  candidate.endpoint = endpoint
  process.stdout.write(`Fjord controller ${id} ready: ${endpoint} (${zk ? `zookeeper ${zk}, campaigning` : `embedded, metadata in ${dir}`})\n`)

  let stopping = false
  const shutdown = (signal: string, code = 0) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    Promise.all([server.close(), controller.close()]).then(
      () => { log.flush(); process.exit(code) },
      (err) => { log.error({ err }, 'unclean shutdown'); process.exit(1) },
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  await controller.activate((reason) => {
    // A deposed controller must not serve stale metadata: drop every session and exit, so the
    // supervisor restarts it as a fresh candidate.
    log.error({ reason }, 'deposed; exiting')
    server.dropSessions()
    shutdown('deposed', 3)
  })
  process.stdout.write(`Fjord controller ${id} active: epoch ${controller.epoch}, cluster ${controller.image.clusterId}\n`)
}
