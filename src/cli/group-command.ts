// `fjord group list|describe|reset-offsets|delete`: consumer groups as a Kafka client, like
// kafka-consumer-groups.sh.

import { deleteGroup, describeGroup, executeOffsetReset, listGroups, planOffsetReset, type ResetStrategy, type ResetTarget } from './admin.js'
import { COMMON_HELP, EXIT_OK, EXIT_USAGE, UsageError, commonValues, intArg, parseCommand, printJson, runCommand, table, withClient } from './common.js'

export const GROUP_USAGE = `Usage: fjord group <command> [options]

Commands:
  list                         every group: state, protocol type, and type (classic or consumer)
  describe GROUP               state and members (client id, host, assigned partitions), and per
                               partition the committed offset, log end offset and lag
  reset-offsets GROUP (--topic TOPIC[:P,P...] ... | --all-topics) STRATEGY [--execute]
                               moves the group's committed offsets; the group must be inactive
                               (Empty or Dead). Without --execute it only prints the plan.
      --to-earliest            the log start offset
      --to-latest              the log end offset
      --to-datetime TIME       the first offset at or after TIME, ISO 8601
                               (2024-05-01T12:00:00Z; without a zone: local time);
                               the log end offset where no record is that recent
      --to-offset N            offset N, moved into [log start, log end] where outside
      --topic TOPIC[:P,P...]   a topic, or some of its partitions; repeatable
      --all-topics             every topic the group has committed offsets for
      --dry-run                print the plan only (the default)
      --execute                commit the plan (OffsetCommit from outside the group)
  delete GROUP                 deletes an empty group and its committed offsets

${COMMON_HELP}
`

const RESET_STRATEGIES = ['to-earliest', 'to-latest', 'to-datetime', 'to-offset'] as const

function oneGroup(positionals: string[], command: string): string {
  const [group, ...extra] = positionals
  if (!group) throw new UsageError(`group ${command} needs a group id`)
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`)
  return group
}

/** Parses ISO 8601 date-times (a date alone is not enough: Kafka's tool wants a time too). */
export function parseDateTime(text: string): number {
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i
  const ms = iso.test(text) ? Date.parse(text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')) : NaN
  if (Number.isNaN(ms)) throw new UsageError(`--to-datetime expects an ISO 8601 date-time such as 2024-05-01T12:00:00Z, not '${text}'`)
  return ms
}

function parseTarget(text: string): ResetTarget {
  const i = text.indexOf(':')
  if (i < 0) {
    if (text === '') throw new UsageError('--topic needs a topic name')
    return { topic: text, partitions: null }
  }
  const topic = text.slice(0, i)
  const list = text.slice(i + 1)
  if (topic === '' || list === '') throw new UsageError(`--topic expects TOPIC or TOPIC:P,P..., not '${text}'`)
  return { topic, partitions: list.split(',').map((p) => intArg(p, `partition '${p}' in --topic ${text}`, 0, 2 ** 31 - 1)) }
}

function strategyOf(values: Record<string, unknown>): ResetStrategy {
  const given = RESET_STRATEGIES.filter((s) => values[s] !== undefined && values[s] !== false)
  if (given.length === 0) throw new UsageError(`reset-offsets needs one of ${RESET_STRATEGIES.map((s) => `--${s}`).join(', ')}`)
  if (given.length > 1) throw new UsageError(`reset-offsets takes one strategy, got ${given.map((s) => `--${s}`).join(' and ')}`)
  switch (given[0]!) {
    case 'to-earliest': return { kind: 'earliest' }
    case 'to-latest': return { kind: 'latest' }
    case 'to-datetime': return { kind: 'datetime', timestamp: parseDateTime(values['to-datetime'] as string) }
    case 'to-offset': return { kind: 'offset', offset: intArg(values['to-offset'] as string, '--to-offset', 0) }
  }
}

function assignmentText(assignment: { topic: string; partitions: number[] }[]): string {
  return assignment.length === 0 ? '-' : assignment.map((a) => `${a.topic}:${a.partitions.join(',')}`).join(' ')
}

export async function runGroupCommand(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined) {
    process.stderr.write(GROUP_USAGE)
    return EXIT_USAGE
  }
  if (command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(GROUP_USAGE)
    return EXIT_OK
  }
  return runCommand('fjord group --help', async () => {
    switch (command) {
      case 'list': {
        const { values, positionals } = parseCommand(rest, {})
        if (values.help) return void process.stdout.write(GROUP_USAGE)
        if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`)
        const common = commonValues(values)
        const groups = await withClient(common, listGroups)
        if (common.output === 'json') return printJson({ groups })
        process.stdout.write(table(['GROUP', 'STATE', 'PROTOCOL-TYPE', 'TYPE'], groups.map((g) => [g.groupId, g.state, g.protocolType || null, g.type])))
        return
      }
      case 'describe': {
        const { values, positionals } = parseCommand(rest, {})
        if (values.help) return void process.stdout.write(GROUP_USAGE)
        const groupId = oneGroup(positionals, command)
        const common = commonValues(values)
        const g = await withClient(common, (c) => describeGroup(c, groupId))
        if (common.output === 'json') return printJson(g)
        let out = `Group ${g.groupId}: state ${g.state}, protocol type ${g.protocolType || '-'}, assignor ${g.protocol || '-'}, ` +
          `coordinator ${g.coordinator.nodeId} (${g.coordinator.host}:${g.coordinator.port})\n\n`
        out += g.members.length === 0
          ? `Consumer group '${g.groupId}' has no active members.\n`
          : table(['MEMBER-ID', 'CLIENT-ID', 'HOST', 'ASSIGNMENT'], g.members.map((m) => [m.memberId, m.clientId, m.host, assignmentText(m.assignment)]))
        if (g.partitions.length > 0) {
          out += '\n' + table(['TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST', 'CLIENT-ID'],
            g.partitions.map((p) => [p.topic, p.partition, p.currentOffset, p.logEndOffset, p.lag, p.memberId, p.host, p.clientId]))
        }
        process.stdout.write(out)
        return
      }
      case 'reset-offsets': {
        const { values, positionals } = parseCommand(rest, {
          topic: { type: 'string', multiple: true },
          'all-topics': { type: 'boolean' },
          'to-earliest': { type: 'boolean' },
          'to-latest': { type: 'boolean' },
          'to-datetime': { type: 'string' },
          'to-offset': { type: 'string' },
          'dry-run': { type: 'boolean' },
          execute: { type: 'boolean' },
        })
        if (values.help) return void process.stdout.write(GROUP_USAGE)
        const groupId = oneGroup(positionals, command)
        const strategy = strategyOf(values)
        const topics = values.topic ?? []
        if (topics.length === 0 && !values['all-topics']) throw new UsageError('reset-offsets needs --topic TOPIC or --all-topics')
        if (topics.length > 0 && values['all-topics']) throw new UsageError('use either --topic or --all-topics, not both')
        if (values.execute && values['dry-run']) throw new UsageError('use either --dry-run or --execute, not both')
        const targets = values['all-topics'] ? null : topics.map(parseTarget)
        const common = commonValues(values)
        const execute = values.execute === true
        const plan = await withClient(common, async (c) => {
          const p = await planOffsetReset(c, groupId, targets, strategy)
          if (execute) await executeOffsetReset(c, p)
          return p
        })
        for (const w of plan.warnings) process.stderr.write(`fjord: warning: ${w}\n`)
        if (common.output === 'json') return printJson({ groupId: plan.groupId, state: plan.state, executed: execute, partitions: plan.partitions })
        process.stdout.write(table(['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'NEW-OFFSET'],
          plan.partitions.map((p) => [plan.groupId, p.topic, p.partition, p.currentOffset, p.newOffset])))
        process.stdout.write(execute
          ? `\nCommitted the new offsets of group ${plan.groupId}.\n`
          : '\nDry run: nothing was committed. Add --execute to commit these offsets.\n')
        return
      }
      case 'delete': {
        const { values, positionals } = parseCommand(rest, {})
        if (values.help) return void process.stdout.write(GROUP_USAGE)
        const groupId = oneGroup(positionals, command)
        const common = commonValues(values)
        await withClient(common, (c) => deleteGroup(c, groupId))
        if (common.output === 'json') return printJson({ deleted: groupId })
        process.stdout.write(`Deleted group ${groupId}.\n`)
        return
      }
      default:
        throw new UsageError(`unknown group command '${command}' (list, describe, reset-offsets, delete)`)
    }
  })
}
