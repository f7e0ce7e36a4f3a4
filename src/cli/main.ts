#!/usr/bin/env node
// The `fjord` command. `fjord broker` runs one broker (the embedded default); `fjord topic` and
// `fjord group` administer a cluster as a Kafka client (src/cli/kafka-client.ts).

import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { brokerSettingDefs, envName, isKnownSetting, resolveSettings, validateSettings, type BrokerSettings } from '../broker/config.js'
import { topicConfigDefs } from '../controller/topic-configs.js'
// Each command's module (and the broker) is imported when that command runs: loading all of them
// up front cost every `fjord` invocation ~0.6 s of CPU (the AWS SDK, the broker, the control plane).

const FJORD_USAGE = `Usage: fjord <command> [options]

Commands:
  broker                          run one broker
  controller                      run a controller (for a cluster of brokers)
  controlplane                    run the MSK-compatible control plane (its clusters outlive it)
  start                           the control plane and a cluster in the foreground (Ctrl-C stops both)
  cluster create|list|describe|scale|storage|delete|wait|...
                                  MSK clusters through the control plane's API (fjord cluster --help)
  topic list                      list topics
  topic describe NAME             partitions, offsets and config overrides of a topic
  topic create NAME [--partitions N] [--replication-factor N] [--config KEY=VALUE ...]
  topic delete NAME
  group list                      groups with their state and protocol type
  group describe GROUP            members, committed offsets, log end offsets and lag
  group reset-offsets GROUP (--topic T[:P,...] | --all-topics)
        (--to-earliest | --to-latest | --to-datetime ISO | --to-offset N) [--execute]
                                  a dry run unless --execute; the group must be Empty or Dead
  group delete GROUP
  produce TOPIC [--key-separator SEP] [--partition N] [--acks all|1|0] [--compression CODEC]
                                  one record per line of stdin
  consume TOPIC [--from-beginning | --offset earliest|latest|N] [--partition N] [--group G]
        [--max-messages N] [--timeout-ms N] [--print-key] [--key-separator SEP]
                                  prints records, one per line (JSON lines with -o json)

The topic, group, produce and consume commands take --bootstrap-server HOST:PORT (default 127.0.0.1:9092, env
FJORD_BOOTSTRAP) and --output table|json. Exit codes: 0 done, 1 the operation failed (Kafka
error printed as NAME: message), 2 usage error.

Run 'fjord <command> --help' for a command's options (fjord broker --help, fjord topic --help,
fjord group --help).
`

const USAGE = `Usage: fjord broker [options]

Runs one Kafka-compatible broker.

Options:
  --listen HOST:PORT     address to listen on (listeners; default 127.0.0.1:9092; port 0 picks one)
  --data-dir DIR         where logs and metadata live (log.dirs; default ./data)
  --broker-id N          this broker's id (broker.id; default 0)
  --config FILE          a server.properties file (key=value lines)
  --set KEY=VALUE        any broker setting; repeatable
  --log-level LEVEL      trace, debug, info, warn, error (default info; env FJORD_LOG_LEVEL)
  -h, --help             this help

Every setting can also come from the environment as FJORD_<NAME> (for example
FJORD_LOG_DIRS=/var/lib/fjord). Precedence: --set/flags > --config file > environment > default.

Settings:
${brokerSettingDefs.map((d) => `  ${d.name.padEnd(44)} ${d.default === '' ? '(none)' : d.default}\n      ${d.doc} [${envName(d.name)}]`).join('\n')}
`

function parseProperties(text: string): BrokerSettings {
  const out: BrokerSettings = {}
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#') || line.startsWith('!')) continue
    const i = line.search(/[=:]/)
    if (i < 0) throw new Error(`bad line in config file: ${line}`)
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim()
  }
  return out
}

async function runBroker(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string' },
      'data-dir': { type: 'string' },
      'broker-id': { type: 'string' },
      config: { type: 'string' },
      set: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return
  }
  const overrides: BrokerSettings = values.config ? parseProperties(readFileSync(values.config, 'utf8')) : {}
  for (const kv of values.set ?? []) {
    const i = kv.indexOf('=')
    if (i <= 0) throw new Error(`--set expects KEY=VALUE, got '${kv}'`)
    overrides[kv.slice(0, i)] = kv.slice(i + 1)
  }
  if (values.listen) overrides['listeners'] = values.listen
  if (values['data-dir']) overrides['log.dirs'] = values['data-dir']
  if (values['broker-id']) overrides['broker.id'] = values['broker-id']
  const settings = resolveSettings(overrides)
  const problems = validateSettings(settings)
  if (problems.length > 0) throw new Error(`invalid settings:\n  ${problems.join('\n  ')}`)
  // Topic-config defaults (log.cleaner.*, message.timestamp.*) are valid broker keys too.
  const synonyms = new Set([...topicConfigDefs.values()].flatMap((d) => (d.synonym ? [d.synonym] : [])))
  const unknown = Object.keys(overrides).filter((k) => !isKnownSetting(k) && !synonyms.has(k))

  const log = pino(
    { level: values['log-level'] ?? process.env.FJORD_LOG_LEVEL ?? 'info', base: { broker: settings['broker.id'] } },
    pino.destination(2),
  )
  for (const k of unknown) log.warn({ setting: k }, 'unknown setting, ignored')
  const started = performance.now()
  const { Broker } = await import('../broker/broker.js')
  const broker = await Broker.open(settings, log)
  await broker.listen()
  const ms = (performance.now() - started).toFixed(0)
  process.stdout.write(`Fjord broker ${broker.brokerId} ready: bootstrap ${broker.bootstrap} (data in ${broker.dataDir}, started in ${ms} ms)\n`)

  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    broker.close().then(
      () => { log.flush(); process.exit(0) },
      (err) => { log.error({ err }, 'unclean shutdown'); process.exit(1) },
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2)
  switch (command) {
    case 'broker':
      return runBroker(rest)
    case 'start':
      process.exitCode = await (await import('./start-command.js')).runStartCommand(rest)
      return
    case 'controller':
      return (await import('./controller-command.js')).runController(rest)
    case 'controlplane':
      process.exitCode = await (await import('./controlplane-command.js')).runControlPlaneCommand(rest)
      return
    case 'topic':
      process.exitCode = await (await import('./topic-command.js')).runTopicCommand(rest)
      return
    case 'cluster':
      process.exitCode = await (await import('./cluster-command.js')).runClusterCommand(rest)
      return
    case 'produce':
      process.exitCode = await (await import('./produce-command.js')).runProduceCommand(rest)
      return
    case 'consume':
      process.exitCode = await (await import('./consume-command.js')).runConsumeCommand(rest)
      return
    case 'group':
      process.exitCode = await (await import('./group-command.js')).runGroupCommand(rest)
      return
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(FJORD_USAGE)
      return
    case undefined:
      process.stderr.write(FJORD_USAGE)
      process.exitCode = 2
      return
    default:
      process.stderr.write(`fjord: unknown command '${command}'\n\n${FJORD_USAGE}`)
      process.exitCode = 2
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fjord: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
