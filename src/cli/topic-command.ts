// `fjord topic list|describe|create|delete`: topic administration as a Kafka client.

import { createTopic, deleteTopic, describeTopic, listTopics } from './admin.js'
import { COMMON_HELP, EXIT_OK, EXIT_USAGE, UsageError, commonValues, intArg, parseCommand, printJson, runCommand, table, withClient } from './common.js'

export const TOPIC_USAGE = `Usage: fjord topic <command> [options]

Commands:
  list                         every topic: partitions, replication factor, internal or not
  describe NAME                partitions (leader, replicas, ISR, log start and end offsets)
                               and the topic's config overrides
  create NAME [--partitions N] [--replication-factor N] [--config KEY=VALUE ...]
                               creates a topic; partitions and replication factor default to
                               the broker's num.partitions and default.replication.factor
  delete NAME                  deletes a topic and its data

${COMMON_HELP}
`

function oneName(positionals: string[], command: string): string {
  const [name, ...extra] = positionals
  if (!name) throw new UsageError(`topic ${command} needs a topic name`)
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`)
  return name
}

function parseConfigs(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const kv of list ?? []) {
    const i = kv.indexOf('=')
    if (i <= 0) throw new UsageError(`--config expects KEY=VALUE, got '${kv}'`)
    out[kv.slice(0, i)] = kv.slice(i + 1)
  }
  return out
}

export async function runTopicCommand(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined) {
    process.stderr.write(TOPIC_USAGE)
    return EXIT_USAGE
  }
  if (command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(TOPIC_USAGE)
    return EXIT_OK
  }
  return runCommand('fjord topic --help', async () => {
    switch (command) {
      case 'list': {
        const { values, positionals } = parseCommand(rest, {})
        if (values.help) return void process.stdout.write(TOPIC_USAGE)
        if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`)
        const common = commonValues(values)
        const topics = await withClient(common, listTopics)
        if (common.output === 'json') return printJson({ topics })
        process.stdout.write(table(['TOPIC', 'PARTITIONS', 'REPLICATION-FACTOR', 'INTERNAL'],
          topics.map((t) => [t.name, t.partitions, t.replicationFactor, t.internal ? 'yes' : 'no'])))
        return
      }
      case 'describe': {
        const { values, positionals } = parseCommand(rest, {})
        if (values.help) return void process.stdout.write(TOPIC_USAGE)
        const name = oneName(positionals, command)
        const common = commonValues(values)
        const t = await withClient(common, (c) => describeTopic(c, name))
        if (common.output === 'json') return printJson(t)
        const overrides = t.configs.filter((c) => c.source === 'DYNAMIC_TOPIC_CONFIG')
        process.stdout.write(
          `Topic: ${t.name}  TopicId: ${t.topicId ?? '-'}  Partitions: ${t.partitions}  ReplicationFactor: ${t.replicationFactor}` +
          `${t.internal ? '  Internal: yes' : ''}\n` +
          `Configs: ${overrides.length === 0 ? '(defaults)' : overrides.map((c) => `${c.name}=${c.sensitive ? '(sensitive)' : c.value}`).join(',')}\n\n` +
          table(['PARTITION', 'LEADER', 'REPLICAS', 'ISR', 'LOG-START-OFFSET', 'LOG-END-OFFSET'],
            t.partitionDetails.map((p) => [p.partition, p.leader, p.replicas.join(','), p.isr.join(','), p.logStartOffset, p.logEndOffset])))
        return
      }
      case 'create': {
        const { values, positionals } = parseCommand(rest, {
          partitions: { type: 'string' },
          'replication-factor': { type: 'string' },
          config: { type: 'string', multiple: true },
        })
        if (values.help) return void process.stdout.write(TOPIC_USAGE)
        const name = oneName(positionals, command)
        const partitions = values.partitions === undefined ? undefined : intArg(values.partitions, '--partitions', 1, 2 ** 31 - 1)
        const replicationFactor = values['replication-factor'] === undefined ? undefined : intArg(values['replication-factor'], '--replication-factor', 1, 2 ** 15 - 1)
        const configs = parseConfigs(values.config)
        const common = commonValues(values)
        const created = await withClient(common, (c) => createTopic(c, name, { partitions, replicationFactor, configs }))
        if (common.output === 'json') return printJson(created)
        process.stdout.write(`Created topic ${created.name} (${created.partitions} partition${created.partitions === 1 ? '' : 's'}, replication factor ${created.replicationFactor}).\n`)
        return
      }
      case 'delete': {
        const { values, positionals } = parseCommand(rest, {})
        if (values.help) return void process.stdout.write(TOPIC_USAGE)
        const name = oneName(positionals, command)
        const common = commonValues(values)
        await withClient(common, (c) => deleteTopic(c, name))
        if (common.output === 'json') return printJson({ deleted: name })
        process.stdout.write(`Deleted topic ${name}.\n`)
        return
      }
      default:
        throw new UsageError(`unknown topic command '${command}' (list, describe, create, delete)`)
    }
  })
}
