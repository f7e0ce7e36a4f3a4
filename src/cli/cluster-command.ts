// `fjord cluster ...`: MSK clusters and configurations through the control plane's API (the same
// calls `aws kafka --endpoint-url` makes; src/cli/msk-client.ts). Exit codes: 0 done, 1 the API
// refused or the operation failed, 2 usage, 3 the endpoint cannot be reached.

import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { Cluster, ClusterOperationInfo, CreateClusterV2CommandInput } from '@aws-sdk/client-kafka'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, intArg, runCommand, table, type OutputFormat } from './common.js'
import { OperationFailed, formatElapsed, waitForCluster, type WaitTarget } from './cluster-wait.js'
import { EXIT_UNREACHABLE, EndpointUnreachable, Msk, MskApiError, describeApiError, mskOptions, DEFAULT_ENDPOINT } from './msk-client.js'

export const MSK_COMMON_HELP = `Common options:
  --endpoint URL           the control plane's API (default ${DEFAULT_ENDPOINT}; env FJORD_ENDPOINT)
  --region REGION          region of the calls (default us-east-1; env AWS_REGION)
  -o, --output table|json  tables for people (default) or the API's data as JSON for scripts
  --timeout MS             deadline of each request (default 30000)
  -h, --help               this help

Requests are SigV4-signed with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when set (a fixed
local key otherwise; the control plane does not check signatures yet).
Exit codes: 0 done; 1 the API refused (printed as NotFoundException: message) or the operation
failed (UPDATE_FAILED, a FAILED cluster, --wait-timeout); 2 usage error; 3 the endpoint cannot be
reached.`

export const CLUSTER_USAGE = `Usage: fjord cluster <command> [options]

Commands:
  create NAME [--brokers N] [--zones N | --subnets A,B,C] [--kafka-version V]
         [--volume-size GiB] [--instance-type T] [--configuration NAME|ARN[:REVISION]]
         [--tag KEY=VALUE ...] [--wait]
                               a provisioned cluster (CreateClusterV2): 3 brokers spread over
                               3 zones (a zone per client subnet; --zones N names subnet-a, ...),
                               Kafka 3.7.x.kraft by default; the broker count must be a multiple
                               of the zones (2 or 3)
  list                         every cluster: state, brokers, version, ARN
  describe NAME|ARN            the cluster's shape, state, version and bootstrap servers
  nodes NAME|ARN               its brokers: id, subnet (zone), endpoints, volume size and use
  bootstrap NAME|ARN           the bootstrap servers (one line, for scripts)
  scale NAME|ARN --brokers N [--wait]
                               UpdateBrokerCount
  storage NAME|ARN --volume-size GiB [--broker ID] [--wait]
                               UpdateBrokerStorage: every broker's volume, or one broker's
  storage NAME|ARN --auto-scaling-target PCT --max-volume-size GiB [--cooldown SECONDS]
                               storage auto-scaling (a Fjord extension; MSK does it through
                               Application Auto Scaling): grow volumes past PCT % used
  update-configuration NAME|ARN --configuration NAME|ARN[:REVISION] [--wait]
                               UpdateClusterConfiguration: the brokers restart one at a time
                               with the revision's server.properties (default its latest)
  reboot NAME|ARN --broker ID [--broker ID ...] [--wait]
                               RebootBroker
  delete NAME|ARN [--wait]     DeleteCluster; with --wait until it is gone
  operations NAME|ARN          the cluster's operations, newest first
  operation OPERATION-ARN      one operation: its state, steps, error
  wait NAME|ARN                until the cluster is ACTIVE (or gone, while it is DELETING)
  configuration create NAME --server-properties FILE [--kafka-versions V,...] [--description D]
  configuration list
  configuration describe NAME|ARN [--revision N]   its revisions; one revision's properties
  configuration update NAME|ARN --server-properties FILE [--description D]   a new revision
  configuration delete NAME|ARN

NAME is resolved to the cluster's ARN with ListClustersV2 (an exact name match).

--wait follows the operation until it completes, showing its steps, the cluster's state and the
elapsed time on stderr; --wait-timeout SECONDS gives up (exit 1) after that long (default 1800).

${MSK_COMMON_HELP}
`

const COMMON = {
  endpoint: { type: 'string' },
  region: { type: 'string' },
  output: { type: 'string', short: 'o' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options']

const WAIT = {
  wait: { type: 'boolean' },
  'wait-timeout': { type: 'string' },
} as const satisfies ParseArgsConfig['options']

type Options = NonNullable<ParseArgsConfig['options']>

function parse<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

interface Ctx {
  output: OutputFormat
  msk: Msk
}

function context(values: Record<string, unknown>): Ctx {
  const output = (values['output'] as string | undefined) ?? 'table'
  if (output !== 'table' && output !== 'json') throw new UsageError(`--output must be table or json, not '${output}'`)
  const timeoutText = values['timeout'] as string | undefined
  const timeoutMs = timeoutText === undefined ? 30_000 : intArg(timeoutText, '--timeout', 1)
  const opts = mskOptions({ endpoint: values['endpoint'] as string | undefined, region: values['region'] as string | undefined }, timeoutMs)
  return { output, msk: new Msk(opts) }
}

function waitTimeoutMs(values: Record<string, unknown>): number {
  const text = values['wait-timeout'] as string | undefined
  return text === undefined ? 1_800_000 : intArg(text, '--wait-timeout', 1) * 1000
}

function onePositional(positionals: string[], what: string, command: string): string {
  const [first, ...extra] = positionals
  if (!first) throw new UsageError(`${command} needs ${what}`)
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`)
  return first
}

function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`)
}

/** JSON as the AWS CLI prints the API's data: blobs base64, dates ISO-8601, no SDK metadata. */
export function printApiJson(value: unknown): void {
  const json = JSON.stringify(
    value,
    (key, v: unknown) => {
      if (key === '$metadata') return undefined
      if (v instanceof Uint8Array) return Buffer.from(v).toString('base64')
      if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
        return Buffer.from((v as { data: number[] }).data).toString('base64')
      }
      return v
    },
    2,
  )
  process.stdout.write(json + '\n')
}

const iso = (d: Date | string | undefined | null): string | null => (d === undefined || d === null ? null : d instanceof Date ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : d)

/** Runs one command; every failure becomes its exit code, printed to stderr. */
export function runMskCommand(helpHint: string, fn: () => Promise<void>): Promise<number> {
  return runCommand(helpHint, fn, (err) => {
    if (err instanceof MskApiError) return { message: describeApiError(err), code: EXIT_FAILED }
    if (err instanceof OperationFailed) return { message: err.message, code: EXIT_FAILED }
    if (err instanceof EndpointUnreachable) return { message: err.message, code: EXIT_UNREACHABLE }
    return undefined
  })
}

// Create

/**
 * Zones by default: 3 when the broker count is a multiple of 3, else 2 when it is even (MSK spreads
 * brokers evenly over 2 or 3 zones; other counts are the API's to refuse).
 */
export function defaultZones(brokers: number): number {
  return brokers % 3 !== 0 && brokers % 2 === 0 ? 2 : 3
}

/** Client subnets standing for `zones` zones when the user names none: subnet-a, subnet-b, ... */
export function zoneSubnets(zones: number): string[] {
  return Array.from({ length: zones }, (_, i) => `subnet-${'abcdefghijklmnopqrstuvwxyz'[i] ?? String(i + 1)}`)
}

function parseTags(list: string[] | undefined): Record<string, string> | undefined {
  if (!list) return undefined
  const tags: Record<string, string> = {}
  for (const kv of list) {
    const i = kv.indexOf('=')
    if (i <= 0) throw new UsageError(`--tag expects KEY=VALUE, got '${kv}'`)
    tags[kv.slice(0, i)] = kv.slice(i + 1)
  }
  return tags
}

/** NAME, ARN, NAME:REV or ARN:REV → ARN and revision (the latest when not given). */
async function resolveConfigurationRef(msk: Msk, ref: string): Promise<{ arn: string; revision: number }> {
  const m = /^(.*):(\d+)$/.exec(ref)
  const base = m ? m[1]! : ref
  if (!base) throw new UsageError(`--configuration expects NAME|ARN[:REVISION], got '${ref}'`)
  const arn = await msk.resolveConfiguration(base)
  if (m) return { arn, revision: Number(m[2]) }
  const described = await msk.describeConfiguration(arn)
  const revision = described.LatestRevision?.Revision
  if (revision === undefined) throw new MskApiError('NotFoundException', `configuration ${arn} has no revision`, 404)
  return { arn, revision }
}

export interface CreateSpec {
  name: string
  brokers: number
  subnets: string[]
  kafkaVersion: string
  instanceType: string
  volumeSizeGiB?: number | undefined
  configuration?: { arn: string; revision: number } | undefined
  tags?: Record<string, string> | undefined
}

export function createClusterInput(spec: CreateSpec): CreateClusterV2CommandInput {
  return {
    ClusterName: spec.name,
    ...(spec.tags ? { Tags: spec.tags } : {}),
    Provisioned: {
      NumberOfBrokerNodes: spec.brokers,
      KafkaVersion: spec.kafkaVersion,
      BrokerNodeGroupInfo: {
        ClientSubnets: spec.subnets,
        InstanceType: spec.instanceType,
        ...(spec.volumeSizeGiB !== undefined ? { StorageInfo: { EbsStorageInfo: { VolumeSize: spec.volumeSizeGiB } } } : {}),
      },
      ...(spec.configuration ? { ConfigurationInfo: { Arn: spec.configuration.arn, Revision: spec.configuration.revision } } : {}),
    },
  }
}

// Rendering

function brokersOf(c: Cluster): number | null {
  return c.Provisioned?.NumberOfBrokerNodes ?? null
}

function subnetsOf(c: Cluster): string[] {
  return c.Provisioned?.BrokerNodeGroupInfo?.ClientSubnets ?? c.Serverless?.VpcConfigs?.flatMap((v) => v.SubnetIds ?? []) ?? []
}

function stateText(c: Cluster): string {
  const info = c.StateInfo
  return `${c.State ?? '?'}${info && (info.Code || info.Message) ? ` (${[info.Code, info.Message].filter(Boolean).join(': ')})` : ''}`
}

function describeText(c: Cluster, bootstrap: string | null): string {
  const p = c.Provisioned
  const g = p?.BrokerNodeGroupInfo
  const sw = p?.CurrentBrokerSoftwareInfo
  const rows: [string, string | number | null | undefined][] = [
    ['Name', c.ClusterName],
    ['ARN', c.ClusterArn],
    ['State', stateText(c)],
    ['Type', c.ClusterType],
    ['Created', iso(c.CreationTime)],
    ['Current version', c.CurrentVersion],
    ['Active operation', c.ActiveOperationArn ?? null],
  ]
  if (p) {
    rows.push(
      ['Kafka version', sw?.KafkaVersion],
      ['Brokers', p.NumberOfBrokerNodes],
      ['Client subnets', subnetsOf(c).join(', ')],
      ['Instance type', g?.InstanceType],
      ['Volume size', g?.StorageInfo?.EbsStorageInfo?.VolumeSize !== undefined ? `${g.StorageInfo.EbsStorageInfo.VolumeSize} GiB` : null],
      ['Configuration', sw?.ConfigurationArn ? `${sw.ConfigurationArn} (revision ${sw.ConfigurationRevision})` : null],
      ['Storage mode', p.StorageMode],
    )
    if (p.ZookeeperConnectString) rows.push(['ZooKeeper', p.ZookeeperConnectString])
  } else if (c.Serverless) {
    rows.push(['Subnets', subnetsOf(c).join(', ')])
  }
  const tags = Object.entries(c.Tags ?? {})
  rows.push(['Tags', tags.length ? tags.map(([k, v]) => `${k}=${v}`).join(', ') : null])
  rows.push(['Bootstrap servers', bootstrap])
  const width = Math.max(...rows.map(([k]) => k.length)) + 1
  return rows.map(([k, v]) => `${(k + ':').padEnd(width)}  ${v === null || v === undefined || v === '' ? '-' : String(v)}`).join('\n') + '\n'
}

function operationsTable(ops: ClusterOperationInfo[]): string {
  return table(
    ['TYPE', 'STATE', 'STARTED', 'ENDED', 'OPERATION-ARN'],
    ops.map((o) => [o.OperationType ?? null, o.OperationState ?? null, iso(o.CreationTime), iso(o.EndTime), o.OperationArn ?? null]),
  )
}

function operationText(o: ClusterOperationInfo): string {
  const head =
    `Operation: ${o.OperationArn}\nCluster:   ${o.ClusterArn}\nType:      ${o.OperationType}\nState:     ${o.OperationState}\n` +
    `Started:   ${iso(o.CreationTime) ?? '-'}\nEnded:     ${iso(o.EndTime) ?? '-'}\n` +
    (o.ErrorInfo ? `Error:     ${o.ErrorInfo.ErrorCode ?? ''}${o.ErrorInfo.ErrorString ? `: ${o.ErrorInfo.ErrorString}` : ''}\n` : '')
  const steps = o.OperationSteps ?? []
  return head + (steps.length ? '\n' + table(['STEP', 'STATUS'], steps.map((s) => [s.StepName ?? null, s.StepInfo?.StepStatus ?? null])) : '')
}

/** After --wait, or the accepted request without it. */
async function finishOperation(ctx: Ctx, values: Record<string, unknown>, target: WaitTarget, accepted: Record<string, unknown>, what: string): Promise<void> {
  if (!values['wait']) {
    if (ctx.output === 'json') return printApiJson(accepted)
    process.stdout.write(`${what}: accepted${target.operationArn ? ` (operation ${target.operationArn})` : ''}.\n`)
    return
  }
  const r = await waitForCluster(ctx.msk, target, { timeoutMs: waitTimeoutMs(values) })
  if (ctx.output === 'json') return printApiJson({ ...accepted, ClusterInfo: r.cluster, ClusterOperationInfo: r.operation })
  process.stdout.write(
    target.until === 'gone'
      ? `${what}: done in ${formatElapsed(r.elapsedMs)}; the cluster is gone.\n`
      : `${what}: done in ${formatElapsed(r.elapsedMs)}; the cluster is ${r.cluster?.State}.\n`,
  )
}

// Commands

async function create(rest: string[]): Promise<void> {
  const { values, positionals } = parse(rest, {
    ...WAIT,
    brokers: { type: 'string' },
    zones: { type: 'string' },
    subnets: { type: 'string' },
    'kafka-version': { type: 'string' },
    'volume-size': { type: 'string' },
    'instance-type': { type: 'string' },
    configuration: { type: 'string' },
    tag: { type: 'string', multiple: true },
  })
  if (values.help) return void process.stdout.write(CLUSTER_USAGE)
  const name = onePositional(positionals, 'a cluster name', 'cluster create')
  const brokers = values.brokers === undefined ? 3 : intArg(values.brokers, '--brokers', 1, 1000)
  if (values.zones !== undefined && values.subnets !== undefined) throw new UsageError('give --zones or --subnets, not both')
  const subnets = values.subnets !== undefined
    ? values.subnets.split(',').map((s) => s.trim()).filter(Boolean)
    : zoneSubnets(values.zones === undefined ? defaultZones(brokers) : intArg(values.zones, '--zones', 1, 26))
  if (subnets.length === 0) throw new UsageError('--subnets needs at least one subnet')
  const volumeSizeGiB = values['volume-size'] === undefined ? undefined : intArg(values['volume-size'], '--volume-size', 1)
  const tags = parseTags(values.tag)
  const ctx = context(values)
  const timeoutMs = waitTimeoutMs(values)
  try {
    const configuration = values.configuration === undefined ? undefined : await resolveConfigurationRef(ctx.msk, values.configuration)
    const input = createClusterInput({
      name,
      brokers,
      subnets,
      kafkaVersion: values['kafka-version'] ?? '3.7.x.kraft',
      instanceType: values['instance-type'] ?? 'kafka.m5.large',
      volumeSizeGiB,
      configuration,
      tags,
    })
    const created = await ctx.msk.createCluster(input)
    if (!values.wait) {
      if (ctx.output === 'json') return printApiJson({ ClusterArn: created.clusterArn, ClusterName: name, State: created.state })
      process.stdout.write(`Cluster ${name} is ${created.state}: ${created.clusterArn}\nRun 'fjord cluster wait ${name}' to wait until it is ACTIVE.\n`)
      return
    }
    if (ctx.output !== 'json') process.stderr.write(`Creating cluster ${name} (${created.clusterArn})\n`)
    const r = await waitForCluster(ctx.msk, { clusterArn: created.clusterArn, until: 'active' }, { timeoutMs })
    const bootstrap = await ctx.msk.bootstrapBrokers(created.clusterArn)
    if (ctx.output === 'json') return printApiJson({ ClusterInfo: r.cluster, BootstrapBrokers: bootstrap })
    process.stdout.write(`Cluster ${name} is ACTIVE after ${formatElapsed(r.elapsedMs)}.\nBootstrap servers: ${bootstrap.BootstrapBrokerString ?? '-'}\n`)
  } finally {
    ctx.msk.close()
  }
}

/**
 * Commands on one cluster: parse, check the flags (`prepare`; a usage error must not depend on the
 * endpoint), resolve NAME|ARN, run.
 */
type Values = Record<string, string | boolean | string[] | undefined>

async function onCluster<A>(
  rest: string[],
  command: string,
  options: Options,
  prepare: (values: Values) => A,
  run: (ctx: Ctx, arn: string, args: A, values: Values) => Promise<void>,
): Promise<void> {
  const { values, positionals } = parse(rest, options) as { values: Values; positionals: string[] }
  if (values['help']) return void process.stdout.write(CLUSTER_USAGE)
  const ref = onePositional(positionals, 'a cluster name or ARN', `cluster ${command}`)
  const args = prepare(values)
  const ctx = context(values)
  try {
    await run(ctx, await ctx.msk.resolveCluster(ref), args, values)
  } finally {
    ctx.msk.close()
  }
}

const nothing = () => undefined

async function describeCluster(rest: string[]): Promise<void> {
  await onCluster(rest, 'describe', {}, nothing, async (ctx, arn) => {
    const c = await ctx.msk.describeCluster(arn)
    if (ctx.output === 'json') return printApiJson({ ClusterInfo: c })
    let bootstrap: string | null = null
    if (c.State === 'ACTIVE' || c.State === 'UPDATING' || c.State === 'REBOOTING_BROKER' || c.State === 'HEALING' || c.State === 'MAINTENANCE') {
      bootstrap = (await ctx.msk.bootstrapBrokers(arn)).BootstrapBrokerString ?? null
    }
    process.stdout.write(describeText(c, bootstrap))
  })
}

async function list(rest: string[]): Promise<void> {
  const { values, positionals } = parse(rest, {})
  if (values.help) return void process.stdout.write(CLUSTER_USAGE)
  noPositionals(positionals)
  const ctx = context(values)
  try {
    const clusters = await ctx.msk.listClusters()
    if (ctx.output === 'json') return printApiJson({ ClusterInfoList: clusters })
    process.stdout.write(
      table(
        ['NAME', 'STATE', 'TYPE', 'BROKERS', 'ZONES', 'KAFKA-VERSION', 'CREATED', 'ARN'],
        clusters.map((c) => [
          c.ClusterName ?? null,
          c.State ?? null,
          c.ClusterType ?? null,
          brokersOf(c),
          subnetsOf(c).length || null,
          c.Provisioned?.CurrentBrokerSoftwareInfo?.KafkaVersion ?? null,
          iso(c.CreationTime),
          c.ClusterArn ?? null,
        ]),
      ),
    )
  } finally {
    ctx.msk.close()
  }
}

async function nodes(rest: string[]): Promise<void> {
  await onCluster(rest, 'nodes', {}, nothing, async (ctx, arn) => {
    const list = await ctx.msk.listNodes(arn)
    if (ctx.output === 'json') return printApiJson({ NodeInfoList: list })
    // volume size and use come from Fjord's usage extension (MSK reports them as CloudWatch metrics)
    const usage = new Map((await ctx.msk.usage(arn)).brokers.map((u) => [u.brokerId, u]))
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
    const size = (bytes: number): string => {
      let v = bytes
      let u = 0
      while (v >= 1024 && u < units.length - 1) (v /= 1024), u++
      return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`
    }
    const brokers = list.filter((n) => n.BrokerNodeInfo).sort((a, b) => (a.BrokerNodeInfo!.BrokerId ?? 0) - (b.BrokerNodeInfo!.BrokerId ?? 0))
    process.stdout.write(
      table(
        ['BROKER', 'SUBNET', 'ENDPOINTS', 'VOLUME', 'USED', 'INSTANCE-TYPE', 'KAFKA-VERSION', 'ADDED'],
        brokers.map((n) => {
          const b = n.BrokerNodeInfo!
          const u = usage.get(b.BrokerId ?? -1)
          const used = u && u.usedBytes !== null ? `${size(u.usedBytes)} (${((100 * u.usedBytes) / u.volumeSizeBytes).toFixed(1)}%)` : null
          return [b.BrokerId ?? null, b.ClientSubnet ?? null, (b.Endpoints ?? []).join(',') || null, u ? size(u.volumeSizeBytes) : null, used, n.InstanceType ?? null, b.CurrentBrokerSoftwareInfo?.KafkaVersion ?? null, n.AddedToClusterTime ?? null]
        }),
      ),
    )
  })
}

async function bootstrap(rest: string[]): Promise<void> {
  await onCluster(rest, 'bootstrap', {}, nothing, async (ctx, arn) => {
    const b = await ctx.msk.bootstrapBrokers(arn)
    if (ctx.output === 'json') return printApiJson(b)
    const plain = b.BootstrapBrokerString ?? b.BootstrapBrokerStringTls ?? b.BootstrapBrokerStringSaslScram ?? b.BootstrapBrokerStringSaslIam
    if (!plain) throw new MskApiError('NotFoundException', 'the cluster has no bootstrap servers (yet)', 404)
    process.stdout.write(plain + '\n')
  })
}

async function scale(rest: string[]): Promise<void> {
  const prepare = (values: Values) => {
    const brokers = values['brokers'] as string | undefined
    if (brokers === undefined) throw new UsageError('cluster scale needs --brokers N')
    waitTimeoutMs(values)
    return intArg(brokers, '--brokers', 1, 1000)
  }
  await onCluster(rest, 'scale', { ...WAIT, brokers: { type: 'string' } }, prepare, async (ctx, arn, brokers, values) => {
    const c = await ctx.msk.describeCluster(arn)
    const op = await ctx.msk.updateBrokerCount(arn, c.CurrentVersion!, brokers)
    await finishOperation(ctx, values, { clusterArn: arn, operationArn: op, until: 'active' }, { ClusterArn: arn, ClusterOperationArn: op }, `Scale ${c.ClusterName} to ${brokers} brokers`)
  })
}

type StorageArgs =
  | { kind: 'auto-scaling'; targetUtilization: number; maxVolumeSizeGiB: number; cooldownSeconds: number | undefined }
  | { kind: 'volume'; size: number; broker: string }

async function storage(rest: string[]): Promise<void> {
  const options = {
    ...WAIT,
    'volume-size': { type: 'string' },
    broker: { type: 'string' },
    'auto-scaling-target': { type: 'string' },
    'max-volume-size': { type: 'string' },
    cooldown: { type: 'string' },
  } as const
  const prepare = (values: Values): StorageArgs => {
    const v = (k: string) => values[k] as string | undefined
    if (v('auto-scaling-target') !== undefined || v('max-volume-size') !== undefined || v('cooldown') !== undefined) {
      if (v('volume-size') !== undefined || v('broker') !== undefined || values['wait']) throw new UsageError('--auto-scaling-target goes without --volume-size, --broker and --wait')
      if (v('auto-scaling-target') === undefined || v('max-volume-size') === undefined) throw new UsageError('storage auto-scaling needs --auto-scaling-target PCT and --max-volume-size GiB')
      return {
        kind: 'auto-scaling',
        targetUtilization: intArg(v('auto-scaling-target')!, '--auto-scaling-target', 10, 80),
        maxVolumeSizeGiB: intArg(v('max-volume-size')!, '--max-volume-size', 1, 16384),
        cooldownSeconds: v('cooldown') === undefined ? undefined : intArg(v('cooldown')!, '--cooldown', 0),
      }
    }
    if (v('volume-size') === undefined) throw new UsageError('cluster storage needs --volume-size GiB (or --auto-scaling-target PCT --max-volume-size GiB)')
    waitTimeoutMs(values)
    return { kind: 'volume', size: intArg(v('volume-size')!, '--volume-size', 1, 16384), broker: v('broker') === undefined ? 'ALL' : String(intArg(v('broker')!, '--broker', 0)) }
  }
  await onCluster(rest, 'storage', options, prepare, async (ctx, arn, a, values) => {
    if (a.kind === 'auto-scaling') {
      const out = await ctx.msk.putStorageAutoScaling(arn, { targetUtilization: a.targetUtilization, maxVolumeSizeGiB: a.maxVolumeSizeGiB, ...(a.cooldownSeconds !== undefined ? { cooldownSeconds: a.cooldownSeconds } : {}) })
      if (ctx.output === 'json') return printApiJson(out)
      process.stdout.write(`Storage auto-scaling on: volumes grow when more than ${a.targetUtilization}% is used, up to ${a.maxVolumeSizeGiB} GiB per broker.\n`)
      return
    }
    const c = await ctx.msk.describeCluster(arn)
    const op = await ctx.msk.updateBrokerStorage(arn, c.CurrentVersion!, a.broker, a.size)
    await finishOperation(ctx, values, { clusterArn: arn, operationArn: op, until: 'active' }, { ClusterArn: arn, ClusterOperationArn: op },
      `Grow ${a.broker === 'ALL' ? "every broker's volume" : `broker ${a.broker}'s volume`} of ${c.ClusterName} to ${a.size} GiB`)
  })
}

async function updateConfiguration(rest: string[]): Promise<void> {
  const prepare = (values: Values) => {
    const ref = values['configuration'] as string | undefined
    if (ref === undefined) throw new UsageError('cluster update-configuration needs --configuration NAME|ARN[:REVISION]')
    waitTimeoutMs(values)
    return ref
  }
  await onCluster(rest, 'update-configuration', { ...WAIT, configuration: { type: 'string' } }, prepare, async (ctx, arn, ref, values) => {
    const configuration = await resolveConfigurationRef(ctx.msk, ref)
    const c = await ctx.msk.describeCluster(arn)
    const op = await ctx.msk.updateClusterConfiguration(arn, c.CurrentVersion!, configuration)
    await finishOperation(ctx, values, { clusterArn: arn, operationArn: op, until: 'active' }, { ClusterArn: arn, ClusterOperationArn: op },
      `Configure ${c.ClusterName} with ${configuration.arn} revision ${configuration.revision}`)
  })
}

async function reboot(rest: string[]): Promise<void> {
  const prepare = (values: Values) => {
    const brokers = values['broker'] as string[] | undefined
    if (!brokers?.length) throw new UsageError('cluster reboot needs --broker ID')
    waitTimeoutMs(values)
    return brokers.map((b) => String(intArg(b, '--broker', 0)))
  }
  await onCluster(rest, 'reboot', { ...WAIT, broker: { type: 'string', multiple: true } }, prepare, async (ctx, arn, ids, values) => {
    const op = await ctx.msk.rebootBroker(arn, ids)
    await finishOperation(ctx, values, { clusterArn: arn, operationArn: op, until: 'active' }, { ClusterArn: arn, ClusterOperationArn: op }, `Reboot broker ${ids.join(', ')}`)
  })
}

async function deleteCluster(rest: string[]): Promise<void> {
  await onCluster(rest, 'delete', { ...WAIT }, (values) => waitTimeoutMs(values), async (ctx, arn, _timeout, values) => {
    const out = await ctx.msk.deleteCluster(arn)
    const name = /:cluster\/([^/]+)\//.exec(arn)?.[1] ?? arn
    await finishOperation(ctx, values, { clusterArn: arn, until: 'gone' }, { ClusterArn: out.clusterArn, State: out.state }, `Delete cluster ${name}`)
  })
}

async function operations(rest: string[]): Promise<void> {
  await onCluster(rest, 'operations', {}, nothing, async (ctx, arn) => {
    const ops = await ctx.msk.listOperations(arn)
    if (ctx.output === 'json') return printApiJson({ ClusterOperationInfoList: ops })
    process.stdout.write(operationsTable(ops))
  })
}

async function operation(rest: string[]): Promise<void> {
  const { values, positionals } = parse(rest, {})
  if (values.help) return void process.stdout.write(CLUSTER_USAGE)
  const arn = onePositional(positionals, 'an operation ARN', 'cluster operation')
  const ctx = context(values)
  try {
    const op = await ctx.msk.describeOperation(arn)
    if (ctx.output === 'json') return printApiJson({ ClusterOperationInfo: op })
    process.stdout.write(operationText(op))
  } finally {
    ctx.msk.close()
  }
}

async function wait(rest: string[]): Promise<void> {
  await onCluster(rest, 'wait', { 'wait-timeout': { type: 'string' } }, (values) => waitTimeoutMs(values), async (ctx, arn, timeoutMs) => {
    const c = await ctx.msk.describeCluster(arn)
    const until = c.State === 'DELETING' ? 'gone' : 'active'
    const r = await waitForCluster(ctx.msk, { clusterArn: arn, until }, { timeoutMs })
    if (ctx.output === 'json') return printApiJson({ ClusterInfo: r.cluster })
    process.stdout.write(until === 'gone' ? `Cluster ${c.ClusterName} is gone.\n` : `Cluster ${c.ClusterName} is ACTIVE.\n`)
  })
}

// Configurations

function readProperties(file: string | undefined): string {
  if (file === undefined) throw new UsageError('--server-properties FILE is required')
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new UsageError(`cannot read --server-properties ${file}: ${(err as Error).message}`)
  }
}

async function configuration(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  switch (command) {
    case 'create': {
      const { values, positionals } = parse(rest, { 'server-properties': { type: 'string' }, 'kafka-versions': { type: 'string' }, description: { type: 'string' } })
      if (values.help) return void process.stdout.write(CLUSTER_USAGE)
      const name = onePositional(positionals, 'a configuration name', 'configuration create')
      const properties = readProperties(values['server-properties'])
      const versions = values['kafka-versions']?.split(',').map((v) => v.trim()).filter(Boolean)
      const ctx = context(values)
      try {
        const out = await ctx.msk.createConfiguration(name, properties, versions, values.description)
        if (ctx.output === 'json') return printApiJson(out)
        process.stdout.write(`Created configuration ${out.Name} revision ${out.LatestRevision?.Revision ?? 1}: ${out.Arn}\n`)
      } finally {
        ctx.msk.close()
      }
      return
    }
    case 'list': {
      const { values, positionals } = parse(rest, {})
      if (values.help) return void process.stdout.write(CLUSTER_USAGE)
      noPositionals(positionals)
      const ctx = context(values)
      try {
        const configs = await ctx.msk.listConfigurations()
        if (ctx.output === 'json') return printApiJson({ Configurations: configs })
        process.stdout.write(
          table(
            ['NAME', 'STATE', 'LATEST-REVISION', 'KAFKA-VERSIONS', 'CREATED', 'ARN'],
            configs.map((c) => [c.Name ?? null, c.State ?? null, c.LatestRevision?.Revision ?? null, (c.KafkaVersions ?? []).join(',') || null, iso(c.CreationTime), c.Arn ?? null]),
          ),
        )
      } finally {
        ctx.msk.close()
      }
      return
    }
    case 'describe': {
      const { values, positionals } = parse(rest, { revision: { type: 'string' } })
      if (values.help) return void process.stdout.write(CLUSTER_USAGE)
      const ref = onePositional(positionals, 'a configuration name or ARN', 'configuration describe')
      const wanted = values.revision === undefined ? undefined : intArg(values.revision, '--revision', 1)
      const ctx = context(values)
      try {
        const arn = await ctx.msk.resolveConfiguration(ref)
        const c = await ctx.msk.describeConfiguration(arn)
        const revision = wanted ?? c.LatestRevision?.Revision
        const rev = revision === undefined ? null : await ctx.msk.describeConfigurationRevision(arn, revision)
        if (ctx.output === 'json') return printApiJson({ ...c, ...(rev ? { Revision: rev } : {}) })
        process.stdout.write(
          `Name:            ${c.Name}\nARN:             ${c.Arn}\nState:           ${c.State}\nDescription:     ${c.Description || '-'}\n` +
          `Kafka versions:  ${(c.KafkaVersions ?? []).join(', ') || '-'}\nCreated:         ${iso(c.CreationTime) ?? '-'}\nLatest revision: ${c.LatestRevision?.Revision ?? '-'}\n`,
        )
        if (rev) {
          process.stdout.write(`\nRevision ${rev.Revision}${rev.Description ? ` (${rev.Description})` : ''}, ${iso(rev.CreationTime) ?? ''}:\n`)
          const text = rev.ServerProperties ? Buffer.from(rev.ServerProperties).toString('utf8') : ''
          process.stdout.write(text.endsWith('\n') || text === '' ? text : text + '\n')
        }
      } finally {
        ctx.msk.close()
      }
      return
    }
    case 'update': {
      const { values, positionals } = parse(rest, { 'server-properties': { type: 'string' }, description: { type: 'string' } })
      if (values.help) return void process.stdout.write(CLUSTER_USAGE)
      const ref = onePositional(positionals, 'a configuration name or ARN', 'configuration update')
      const properties = readProperties(values['server-properties'])
      const ctx = context(values)
      try {
        const arn = await ctx.msk.resolveConfiguration(ref)
        const out = await ctx.msk.updateConfiguration(arn, properties, values.description)
        if (ctx.output === 'json') return printApiJson(out)
        process.stdout.write(`Configuration ${ref} is at revision ${out.LatestRevision?.Revision ?? '?'}.\n`)
      } finally {
        ctx.msk.close()
      }
      return
    }
    case 'delete': {
      const { values, positionals } = parse(rest, {})
      if (values.help) return void process.stdout.write(CLUSTER_USAGE)
      const ref = onePositional(positionals, 'a configuration name or ARN', 'configuration delete')
      const ctx = context(values)
      try {
        const arn = await ctx.msk.resolveConfiguration(ref)
        const out = await ctx.msk.deleteConfiguration(arn)
        if (ctx.output === 'json') return printApiJson({ Arn: out.arn, State: out.state })
        process.stdout.write(`Deleted configuration ${ref} (${out.arn}).\n`)
      } finally {
        ctx.msk.close()
      }
      return
    }
    case undefined:
      throw new UsageError('cluster configuration needs a command (create, list, describe, update, delete)')
    default:
      throw new UsageError(`unknown configuration command '${command}' (create, list, describe, update, delete)`)
  }
}

const COMMANDS: Record<string, (rest: string[]) => Promise<void>> = {
  create,
  list,
  describe: describeCluster,
  nodes,
  bootstrap,
  scale,
  storage,
  'update-configuration': updateConfiguration,
  reboot,
  delete: deleteCluster,
  operations,
  operation,
  wait,
  configuration,
}

export async function runClusterCommand(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined) {
    process.stderr.write(CLUSTER_USAGE)
    return EXIT_USAGE
  }
  if (command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(CLUSTER_USAGE)
    return EXIT_OK
  }
  return runMskCommand('fjord cluster --help', async () => {
    const fn = COMMANDS[command]
    if (!fn) throw new UsageError(`unknown cluster command '${command}' (${Object.keys(COMMANDS).join(', ')})`)
    await fn(rest)
  })
}
