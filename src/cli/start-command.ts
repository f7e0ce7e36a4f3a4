// `fjord start`: Fjord on this machine in one command. It runs the MSK-compatible control plane
// (as `fjord controlplane` does) and makes sure one cluster exists: created on the first start
// through the control plane's own API (CreateClusterV2, signed, over HTTP: the path every MSK
// client takes), adopted on the next. Prints the bootstrap servers and the API endpoint, then
// stays in the foreground; Ctrl-C or SIGTERM stops the control plane and, since they were started
// from this terminal, its clusters (unless --detach-on-exit).

import { parseArgs } from 'node:util'
import { pino } from 'pino'
import type { Cluster } from '@aws-sdk/client-kafka'
import { ControlPlane } from '../controlplane/control-plane.js'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, intArg, table } from './common.js'
import { createClusterInput, defaultZones, zoneSubnets } from './cluster-command.js'
import { OperationFailed, formatElapsed, waitForCluster } from './cluster-wait.js'
import { DEFAULT_DATA_DIR, DEFAULT_LISTEN, parseListen, parseLogLevel } from './controlplane-command.js'
import { DEFAULT_REGION, EXIT_UNREACHABLE, EndpointUnreachable, Msk, MskApiError, describeApiError } from './msk-client.js'

/** Broker 1's preferred port: MSK's plaintext port, where clients' tools look by default. */
export const DEFAULT_PORT_BASE = 9092

export const START_USAGE = `Usage: fjord start [options]

Runs Fjord in the foreground: the MSK-compatible control plane (the MSK API at --listen, as in
'fjord controlplane') and a cluster named --name. The first start creates the cluster through the
API (CreateClusterV2) and waits until it is ACTIVE; a later start on the same --data-dir adopts it
(its brokers keep their ports, so clients' bootstrap lists stay valid). Then it prints the
bootstrap servers and the API endpoint and stays until Ctrl-C or SIGTERM, which stop the control
plane and its clusters (brokers first, then controllers); with --detach-on-exit the clusters keep
running and the next 'fjord start' or 'fjord controlplane' adopts them.

Options:
  --data-dir DIR           the control plane's state and its clusters (default ${DEFAULT_DATA_DIR})
  --listen HOST:PORT       the MSK API (default ${DEFAULT_LISTEN}; port 0 picks one); the brokers
                           listen on the same host
  --port-base PORT         broker N of a new cluster (or of a scale-out) listens on PORT + N - 1
                           when that port is free, on a free port otherwise, said at start
                           (default ${DEFAULT_PORT_BASE}, MSK's plaintext port: 9092, 9093, 9094;
                           0: free ports only). An adopted cluster keeps its ports
  --name NAME              the cluster (default default)
  --brokers N              brokers (default 3)
  --zones N                availability zones, 2 or 3, brokers spread evenly (default 3, or 2
                           when N is even but not a multiple of 3)
  --kafka-version V        default 3.7.x.kraft; a version without .kraft (3.6.0, 3.7.x, ...) runs
                           the cluster with a three-node ZooKeeper ensemble the control plane
                           starts (Debian's zookeeper package and java; without them the cluster
                           runs with the embedded controller and its state info says so)
  --metadata kraft|zookeeper
                           shorthand: zookeeper is --kafka-version 3.7.x
  --volume-size GiB        each broker's volume (default the API's, 1000)
  --set KEY=VALUE          a broker setting; repeatable. Becomes the configuration NAME-start
                           (server.properties) the cluster is created with
  --region REGION          region of the cluster's ARN (default ${DEFAULT_REGION}; env AWS_REGION)
  --detach-on-exit         Ctrl-C/SIGTERM stop the control plane only; the clusters keep running
  --log-level LEVEL        trace, debug, info, warn, error (default warn; env FJORD_LOG_LEVEL)
  -h, --help               this help

Then use the cluster with any Kafka client, and the control plane with the AWS CLI or SDKs:
  aws kafka list-clusters --endpoint-url http://127.0.0.1:8092 --region us-east-1
or 'fjord cluster' (fjord cluster list, fjord cluster scale default --brokers 6 --wait).
`

interface Parsed {
  dataDir: string
  portBase: number
  listen: { host: string; port: number }
  name: string
  brokers: number | undefined
  zones: number | undefined
  kafkaVersion: string | undefined
  volumeSizeGiB: number | undefined
  settings: Record<string, string> | undefined
  region: string
  detach: boolean
  logLevel: string
}

function parse(argv: string[]): Parsed | 'help' {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        'data-dir': { type: 'string' },
        listen: { type: 'string' },
        'port-base': { type: 'string' },
        name: { type: 'string' },
        brokers: { type: 'string' },
        zones: { type: 'string' },
        'kafka-version': { type: 'string' },
        metadata: { type: 'string' },
        'volume-size': { type: 'string' },
        set: { type: 'string', multiple: true },
        region: { type: 'string' },
        'detach-on-exit': { type: 'boolean' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }))
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (values.help) return 'help'
  let kafkaVersion = values['kafka-version']
  switch (values.metadata) {
    case undefined:
      break
    case 'kraft':
      if (kafkaVersion !== undefined && !kafkaVersion.endsWith('.kraft')) throw new UsageError(`--metadata kraft needs a .kraft --kafka-version, not '${kafkaVersion}'`)
      kafkaVersion ??= '3.7.x.kraft'
      break
    case 'zookeeper':
      if (kafkaVersion !== undefined && kafkaVersion.endsWith('.kraft')) throw new UsageError(`--metadata zookeeper needs a --kafka-version without .kraft, not '${kafkaVersion}'`)
      kafkaVersion ??= '3.7.x'
      break
    default:
      throw new UsageError(`--metadata must be kraft or zookeeper, not '${values.metadata}' (the control plane runs one controller for KRaft versions, ZooKeeper for the others)`)
  }
  let settings: Record<string, string> | undefined
  if (values.set) {
    settings = {}
    for (const kv of values.set) {
      const i = kv.indexOf('=')
      if (i <= 0) throw new UsageError(`--set expects KEY=VALUE, got '${kv}'`)
      settings[kv.slice(0, i)] = kv.slice(i + 1)
    }
  }
  const name = values.name ?? 'default'
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/.test(name)) throw new UsageError(`--name must be letters, digits and hyphens (MSK's cluster names), not '${name}'`)
  return {
    dataDir: values['data-dir'] ?? DEFAULT_DATA_DIR,
    listen: parseListen(values.listen ?? DEFAULT_LISTEN),
    portBase: values['port-base'] === undefined ? DEFAULT_PORT_BASE : intArg(values['port-base'], '--port-base', 0, 65535),
    name,
    brokers: values.brokers === undefined ? undefined : intArg(values.brokers, '--brokers', 1, 60),
    zones: values.zones === undefined ? undefined : intArg(values.zones, '--zones', 1, 26),
    kafkaVersion,
    volumeSizeGiB: values['volume-size'] === undefined ? undefined : intArg(values['volume-size'], '--volume-size', 1, 16384),
    settings,
    region: values.region ?? process.env.AWS_REGION ?? DEFAULT_REGION,
    detach: values['detach-on-exit'] === true,
    logLevel: parseLogLevel(values['log-level'] ?? process.env.FJORD_LOG_LEVEL ?? 'warn'),
  }
}

/** What an existing cluster is asked to be but is not: said, not changed (there are commands for that). */
function differences(c: Cluster, p: Parsed): string[] {
  const out: string[] = []
  const brokers = c.Provisioned?.NumberOfBrokerNodes
  const zones = c.Provisioned?.BrokerNodeGroupInfo?.ClientSubnets?.length
  const version = c.Provisioned?.CurrentBrokerSoftwareInfo?.KafkaVersion
  const volume = c.Provisioned?.BrokerNodeGroupInfo?.StorageInfo?.EbsStorageInfo?.VolumeSize
  if (p.brokers !== undefined && p.brokers !== brokers) out.push(`it has ${brokers} brokers, not ${p.brokers} (fjord cluster scale ${p.name} --brokers ${p.brokers})`)
  if (p.zones !== undefined && p.zones !== zones) out.push(`it spans ${zones} zones, not ${p.zones} (zones are fixed at creation)`)
  if (p.kafkaVersion !== undefined && p.kafkaVersion !== version) out.push(`it runs Kafka ${version}, not ${p.kafkaVersion} (aws kafka update-cluster-kafka-version)`)
  if (p.volumeSizeGiB !== undefined && p.volumeSizeGiB !== volume) out.push(`its volumes are ${volume} GiB, not ${p.volumeSizeGiB} (fjord cluster storage ${p.name} --volume-size ${p.volumeSizeGiB})`)
  if (p.settings) out.push(`--set applies when a cluster is created (fjord cluster configuration update ${p.name}-start, then aws kafka update-cluster-configuration)`)
  return out
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
  const log = pino({ level: p.logLevel, base: { component: 'controlplane' } }, pino.destination(2))
  const started = Date.now()

  let cp: ControlPlane
  try {
    cp = await ControlPlane.open({ dataDir: p.dataDir, host: p.listen.host, port: p.listen.port, region: p.region, logger: log, brokerPortBase: p.portBase })
  } catch (err) {
    const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
    process.stderr.write(`fjord: the control plane did not start: ${(err as Error).message}${inUse ? ` (another control plane? --listen ${p.listen.host}:0 picks a free port)` : ''}\n`)
    log.flush()
    return EXIT_FAILED
  }
  const stopClusters = !p.detach
  process.stdout.write(`Fjord control plane ready at ${cp.url} (region ${p.region}, data in ${cp.dataDir})\n`)

  // Signals first: a Ctrl-C while the cluster is created must stop what was started.
  const keepAlive = setInterval(() => {}, 1 << 30)
  let resolveDone!: (code: number) => void
  const done = new Promise<number>((resolve) => (resolveDone = resolve))
  let stopping = false
  let signals = 0
  const stop = (code: number, why: string) => {
    if (stopping) return
    stopping = true
    log.info({ why, stopClusters }, 'stopping')
    process.stderr.write(stopClusters ? 'Stopping the control plane and its clusters...\n' : 'Stopping the control plane; its clusters keep running...\n')
    cp.close({ stopClusters }).then(
      () => {
        process.stdout.write(stopClusters ? `Fjord stopped (control plane and clusters)\n` : `Fjord control plane stopped; its clusters keep running (the next 'fjord start --data-dir ${p.dataDir}' adopts them)\n`)
        resolveDone(code)
      },
      (err: unknown) => {
        process.stderr.write(`fjord: unclean stop: ${(err as Error).message}\n`)
        resolveDone(EXIT_FAILED)
      },
    )
  }
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      process.stderr.write(`fjord: second ${signal}: exiting now; processes still stopping may outlive this one\n`)
      log.flush()
      process.exit(EXIT_FAILED)
    }
    stop(EXIT_OK, signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const msk = new Msk({ endpoint: cp.url, region: p.region, timeoutMs: 30_000 })
  try {
    const ensured = await ensureCluster(msk, p, () => stopping)
    const cluster = ensured?.cluster
    if (!stopping && cluster) {
      const arn = cluster.ClusterArn!
      if (ensured.created && p.portBase > 0) {
        for (const b of cp.store.getCluster(arn)?.runtime?.brokers ?? []) {
          const want = p.portBase + b.id - 1
          if (b.port !== want) process.stderr.write(`fjord: port ${want} is taken: broker ${b.id} listens on ${b.port} instead\n`)
        }
      }
      const bootstrap = (await msk.bootstrapBrokers(arn)).BootstrapBrokerString ?? '-'
      const brokers = cluster.Provisioned?.NumberOfBrokerNodes ?? 0
      const zones = cluster.Provisioned?.BrokerNodeGroupInfo?.ClientSubnets?.length ?? 0
      const version = cluster.Provisioned?.CurrentBrokerSoftwareInfo?.KafkaVersion ?? '?'
      const zookeeper = cluster.Provisioned?.ZookeeperConnectString
      const region = p.region === DEFAULT_REGION ? '' : ` --region ${p.region}`
      const endpointFlag = cp.url === 'http://127.0.0.1:8092' ? '' : ` --endpoint ${cp.url}`
      process.stdout.write(
        `Fjord cluster ${p.name} ready: bootstrap ${bootstrap} (${brokers} brokers over ${zones} zones, Kafka ${version}, started in ${formatElapsed(Date.now() - started)})\n` +
        `  MSK API endpoint:   ${cp.url}  (region ${p.region})\n` +
        `  Cluster ARN:        ${arn}\n` +
        `  Bootstrap servers:  ${bootstrap}\n` +
        (zookeeper ? `  ZooKeeper:          ${zookeeper}\n` : '') +
        '\n' +
        table(['BROKER', 'ZONE', 'SUBNET', 'ADDRESS'],
          [...(cp.store.getCluster(arn)?.runtime?.brokers ?? [])].sort((a, b) => a.id - b.id).map((b) => [b.id, b.zone, b.clientSubnet, `${b.host}:${b.port}`])) +
        `\nTry:\n` +
        `  fjord cluster list${endpointFlag}${region}\n` +
        `  aws kafka list-clusters --endpoint-url ${cp.url} --region ${p.region}\n` +
        `  fjord topic create demo --bootstrap-server ${bootstrap.split(',')[0]} --partitions 3\n\n` +
        (stopClusters
          ? `Ctrl-C stops the control plane and the cluster (start with --detach-on-exit to leave the cluster running).\n`
          : `Ctrl-C stops the control plane; the cluster keeps running (--detach-on-exit).\n`),
      )
    }
  } catch (err) {
    if (!stopping) {
      if (err instanceof MskApiError) process.stderr.write(`fjord: ${describeApiError(err)}\n`)
      else process.stderr.write(`fjord: ${(err as Error).message}\n`)
      const code = err instanceof EndpointUnreachable ? EXIT_UNREACHABLE : EXIT_FAILED
      // A failed start stops what it started; the cluster stays on record (FAILED, with its
      // operation's error) for the next start or `fjord controlplane` to show.
      stop(code, 'cluster did not become ready')
    }
  } finally {
    msk.close()
  }
  const code = await done
  clearInterval(keepAlive)
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  log.flush()
  return code
}

/** The cluster named p.name, created if missing (`created`), once ACTIVE; null if a signal came first. */
async function ensureCluster(msk: Msk, p: Parsed, stopping: () => boolean): Promise<{ cluster: Cluster; created: boolean } | null> {
  const existing = (await msk.listClusters(p.name)).filter((c) => c.ClusterName === p.name)
  if (existing.length > 1) throw new UsageError(`${existing.length} clusters are named '${p.name}' in ${p.dataDir}`)
  let arn: string
  let created = false
  if (existing.length === 1) {
    const c = existing[0]!
    arn = c.ClusterArn!
    process.stderr.write(`Adopting cluster ${p.name} (${c.State}): ${arn}\n`)
    for (const d of differences(c, p)) process.stderr.write(`fjord: warning: cluster ${p.name} is kept as it is: ${d}\n`)
    if (c.State === 'FAILED') {
      throw new OperationFailed(`cluster ${p.name} is FAILED${c.StateInfo?.Message ? `: ${c.StateInfo.Message}` : ''}; delete it (fjord cluster delete ${p.name} while the control plane runs) or use another --name`)
    }
    if (c.State === 'DELETING') {
      process.stderr.write(`Cluster ${p.name} is being deleted; waiting, then creating it again\n`)
      await waitForCluster(msk, { clusterArn: arn, until: 'gone' }, { timeoutMs: 600_000 })
      if (stopping()) return null
      arn = await create(msk, p)
      created = true
    }
  } else {
    arn = await create(msk, p)
    created = true
  }
  if (stopping()) return null
  const r = await waitForCluster(msk, { clusterArn: arn, until: 'active' }, { timeoutMs: 1_800_000 })
  return r.cluster ? { cluster: r.cluster, created } : null
}

async function create(msk: Msk, p: Parsed): Promise<string> {
  const brokers = p.brokers ?? 3
  let configuration: { arn: string; revision: number } | undefined
  if (p.settings) {
    const properties = Object.entries(p.settings).map(([k, v]) => `${k}=${v}`).join('\n') + '\n'
    const configName = `${p.name}-start`
    const found = (await msk.listConfigurations()).find((c) => c.Name === configName)
    const out = found
      ? await msk.updateConfiguration(found.Arn!, properties, 'fjord start --set')
      : await msk.createConfiguration(configName, properties, undefined, 'fjord start --set')
    configuration = { arn: (found?.Arn ?? (out as { Arn?: string }).Arn)!, revision: out.LatestRevision?.Revision ?? 1 }
  }
  const input = createClusterInput({
    name: p.name,
    brokers,
    subnets: zoneSubnets(p.zones ?? defaultZones(brokers)),
    kafkaVersion: p.kafkaVersion ?? '3.7.x.kraft',
    instanceType: 'kafka.m5.large',
    volumeSizeGiB: p.volumeSizeGiB,
    configuration,
  })
  const created = await msk.createCluster(input)
  process.stderr.write(`Creating cluster ${p.name}: ${brokers} brokers, Kafka ${p.kafkaVersion ?? '3.7.x.kraft'} (${created.clusterArn})\n`)
  return created.clusterArn
}
