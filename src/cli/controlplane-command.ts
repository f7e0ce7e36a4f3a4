// `fjord controlplane`: the MSK-compatible control plane in the foreground (src/controlplane's
// ControlPlane: the store, the reconciler and the HTTP API) until SIGTERM or Ctrl-C. Its clusters
// are separate processes: stopping the control plane leaves them running, as MSK's clusters keep
// serving while its control plane is down; the next start adopts them.

import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { ControlPlane } from '../controlplane/control-plane.js'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, intArg } from './common.js'
import { DEFAULT_REGION } from './msk-client.js'

export const DEFAULT_DATA_DIR = './fjord-data'
export const DEFAULT_LISTEN = '127.0.0.1:8092'
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']

export const CONTROLPLANE_USAGE = `Usage: fjord controlplane [options]

Runs the MSK-compatible control plane in the foreground: the MSK API (rest-json, as the AWS CLI
and SDKs speak it; point them at it with --endpoint-url) and the reconciler that provisions and
supervises clusters on this machine. State lives in <data-dir>/controlplane.db, clusters under
<data-dir>/clusters/. On start it adopts the clusters already running and resumes unfinished
operations.

SIGTERM or Ctrl-C stops the control plane only: its clusters keep running (as MSK's do while its
control plane is down) and the next 'fjord controlplane' on the same --data-dir adopts them. Use
'fjord cluster delete' to stop a cluster for good, or 'fjord start' to run clusters that stop
with the terminal.

Options:
  --data-dir DIR         the control plane's state and its clusters (default ${DEFAULT_DATA_DIR})
  --listen HOST:PORT     the API's address (default ${DEFAULT_LISTEN}; port 0 picks one); brokers
                         listen on the same host
  --region REGION        region of ARNs for unsigned requests (default ${DEFAULT_REGION}; env
                         AWS_REGION); signed requests use their credential scope's
  --account ID           the account id in ARNs (default 000000000000)
  --reassignment-throttle MB
                         MB/s (10^6 bytes) a broker may copy, as a follower and as a leader,
                         for replicas the control plane moves (scaling; default 52.4, i.e.
                         50 MiB/s; 0 turns the throttle off)
  --log-level LEVEL      trace, debug, info, warn, error (default info; env FJORD_LOG_LEVEL)
  -h, --help             this help
`

/** HOST:PORT (port 0..65535); a bare port means 127.0.0.1. */
export function parseListen(text: string, flag = '--listen'): { host: string; port: number } {
  const i = text.lastIndexOf(':')
  const host = i < 0 ? '127.0.0.1' : text.slice(0, i).replace(/^\[(.*)\]$/, '$1')
  const port = intArg(i < 0 ? text : text.slice(i + 1), `${flag} port`, 0, 65535)
  if (host === '') throw new UsageError(`${flag} expects HOST:PORT, got '${text}'`)
  return { host, port }
}

export function parseLogLevel(value: string | undefined): string {
  const level = value ?? process.env.FJORD_LOG_LEVEL ?? 'info'
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level: unknown level '${level}'`)
  return level
}

export async function runControlPlaneCommand(argv: string[]): Promise<number> {
  let values
  let listen: { host: string; port: number }
  let logLevel: string
  let throttle: number | null | undefined
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        'data-dir': { type: 'string' },
        listen: { type: 'string' },
        region: { type: 'string' },
        account: { type: 'string' },
        'reassignment-throttle': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }))
    listen = parseListen(values.listen ?? DEFAULT_LISTEN)
    logLevel = parseLogLevel(values['log-level'])
    if (values.account !== undefined && !/^\d{12}$/.test(values.account)) throw new UsageError(`--account must be 12 digits, not '${values.account}'`)
    if (values['reassignment-throttle'] !== undefined) {
      const mb = Number(values['reassignment-throttle'])
      if (!Number.isFinite(mb) || mb < 0) throw new UsageError(`--reassignment-throttle: MB/s, 0 or more, not '${values['reassignment-throttle']}'`)
      throttle = mb === 0 ? null : Math.round(mb * 1e6)
    }
  } catch (err) {
    process.stderr.write(`fjord: ${(err as Error).message}\nRun 'fjord controlplane --help' for usage.\n`)
    return EXIT_USAGE
  }
  if (values.help) {
    process.stdout.write(CONTROLPLANE_USAGE)
    return EXIT_OK
  }
  const dataDir = values['data-dir'] ?? DEFAULT_DATA_DIR
  const region = values.region ?? process.env.AWS_REGION ?? DEFAULT_REGION
  const log = pino({ level: logLevel, base: { component: 'controlplane' } }, pino.destination(2))

  let cp: ControlPlane
  try {
    cp = await ControlPlane.open({
      dataDir,
      host: listen.host,
      port: listen.port,
      region,
      ...(values.account ? { account: values.account } : {}),
      ...(throttle !== undefined ? { reconciler: { reassignmentThrottleBytesPerSec: throttle } } : {}),
      logger: log,
    })
  } catch (err) {
    const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
    process.stderr.write(`fjord: the control plane did not start: ${(err as Error).message}${inUse ? ` (another control plane? --listen ${listen.host}:0 picks a free port)` : ''}\n`)
    log.flush()
    return EXIT_FAILED
  }
  const clusters = cp.store.listClusters().length
  process.stdout.write(`Fjord control plane ready at ${cp.url} (region ${region}, data in ${cp.dataDir}, ${clusters} cluster${clusters === 1 ? '' : 's'})\n`)

  const keepAlive = setInterval(() => {}, 1 << 30)
  const code = await new Promise<number>((resolve) => {
    let signals = 0
    const shutdown = (signal: string) => {
      if (++signals > 1) {
        log.warn({ signal }, 'second signal: exiting without a clean close')
        log.flush()
        process.exit(EXIT_FAILED)
      }
      log.info({ signal }, 'stopping the control plane; its clusters keep running')
      cp.close({ stopClusters: false }).then(
        () => {
          process.stdout.write(`Fjord control plane stopped (its clusters keep running; the next 'fjord controlplane --data-dir ${dataDir}' adopts them)\n`)
          resolve(EXIT_OK)
        },
        (err: unknown) => {
          log.error({ err }, 'unclean stop')
          resolve(EXIT_FAILED)
        },
      )
    }
    process.on('SIGINT', () => shutdown('SIGINT'))
    process.on('SIGTERM', () => shutdown('SIGTERM'))
  })
  clearInterval(keepAlive)
  log.flush()
  return code
}
