// `fjord consume TOPIC`: prints records, one per line, read with our own consumer (consumer.ts).

import { COMMON_HELP, EXIT_OK, UsageError, commonValues, intArg, parseCommand, runCommand, withClient } from './common.js'
import { Consumer, type ConsumedRecord, type StartPosition } from './consumer.js'

export const CONSUME_USAGE = `Usage: fjord consume TOPIC [options]

Reads TOPIC from each partition's leader and prints the values, one per line (or KEY SEP VALUE
with --print-key; null prints as "null").

Options:
  --from-beginning           start at the earliest offset (same as --offset earliest)
  --offset earliest|latest|N where to start (default latest); N applies to every partition read
  --partition N              read only partition N
  --group G                  start from G's committed offsets (--offset where it has none) and
                             commit what was printed when stopping. A simple group member: it
                             commits with generation -1, so G must have no active members
  --max-messages N           stop after N records
  --timeout-ms N             stop when no record came for N ms (default: never; Ctrl-C stops)
  --print-key                print the key before the value
  --key-separator SEP        between key and value with --print-key (default a tab)
  -o json                    one JSON object per line: topic, partition, offset, timestamp, key,
                             value, headers (keys, values and header values as UTF-8 text)

Exit code 0 when it stopped as asked, 1 when reading failed (an unknown topic, for one).

${COMMON_HELP}
`

const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'))

function format(r: ConsumedRecord, json: boolean, printKey: boolean, separator: string): string {
  if (json) {
    return JSON.stringify({
      topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp,
      key: text(r.key), value: text(r.value), headers: r.headers.map((h) => ({ key: h.key, value: text(h.value) })),
    })
  }
  const value = text(r.value) ?? 'null'
  return printKey ? `${text(r.key) ?? 'null'}${separator}${value}` : value
}

export async function runConsumeCommand(argv: string[]): Promise<number> {
  return runCommand('fjord consume --help', async () => {
    const { values, positionals } = parseCommand(argv, {
      'from-beginning': { type: 'boolean' },
      offset: { type: 'string' },
      partition: { type: 'string' },
      group: { type: 'string' },
      'max-messages': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'print-key': { type: 'boolean' },
      'key-separator': { type: 'string' },
    })
    if (values.help) return void process.stdout.write(CONSUME_USAGE)
    const [topic, ...extra] = positionals
    if (!topic) throw new UsageError('consume needs a topic name')
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`)
    const common = commonValues(values)
    const offsetText = values.offset as string | undefined
    if (values['from-beginning'] && offsetText !== undefined) throw new UsageError('give --from-beginning or --offset, not both')
    let start: StartPosition = { kind: 'latest' }
    if (values['from-beginning'] || offsetText === 'earliest') start = { kind: 'earliest' }
    else if (offsetText === undefined || offsetText === 'latest') start = { kind: 'latest' }
    else start = { kind: 'offset', offset: intArg(offsetText, '--offset (earliest, latest or an offset)', 0) }
    const partitionText = values.partition as string | undefined
    const partition = partitionText === undefined ? undefined : intArg(partitionText, '--partition', 0, 2 ** 31 - 1)
    const maxText = values['max-messages'] as string | undefined
    const maxMessages = maxText === undefined ? Infinity : intArg(maxText, '--max-messages', 1)
    const timeoutText = values['timeout-ms'] as string | undefined
    const idleMs = timeoutText === undefined ? Infinity : intArg(timeoutText, '--timeout-ms', 0)
    const group = values.group as string | undefined
    if (group === '') throw new UsageError('--group must not be empty')
    const separator = (values['key-separator'] as string | undefined) ?? '\t'
    const json = common.output === 'json'
    const printKey = values['print-key'] === true

    await withClient(common, async (client) => {
      const consumer = await Consumer.create(client, { topic, partition, start, group, requestTimeoutMs: common.timeoutMs })
      let stopped = false
      const stop = () => { stopped = true }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      process.stdout.on('error', stop) // a closed pipe (| head): stop reading
      let printed = 0
      let lastData = Date.now()
      try {
        while (!stopped && printed < maxMessages) {
          const left = idleMs - (Date.now() - lastData)
          if (left <= 0) break
          const records = await consumer.poll(Math.max(0, Math.min(500, left)), maxMessages - printed)
          if (records.length === 0) continue
          lastData = Date.now()
          printed += records.length
          const out = records.map((r) => format(r, json, printKey, separator)).join('\n') + '\n'
          if (!process.stdout.write(out)) await new Promise((r) => process.stdout.once('drain', r))
        }
        await consumer.commit()
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
      }
      process.stderr.write(`Processed a total of ${printed} messages\n`)
    })
    return void EXIT_OK
  })
}
