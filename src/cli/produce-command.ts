// `fjord produce TOPIC`: one record per line of stdin, sent with our own producer (producer.ts).

import { createInterface } from 'node:readline'
import { compressionFromName } from '../protocol/compression.js'
import { COMMON_HELP, EXIT_FAILED, EXIT_OK, UsageError, commonValues, intArg, parseCommand, runCommand, withClient } from './common.js'
import { Producer } from './producer.js'

export const PRODUCE_USAGE = `Usage: fjord produce TOPIC [options] < lines

Reads stdin, one record per line, and produces the records to TOPIC. Keyed records go to
murmur2(key) % partitions, as with Kafka's default partitioner; records without a key stick to
one partition per batch, then move on round robin.

Options:
  --key-separator SEP        split each line at the first SEP into key and value (no key without it)
  --partition N              send every record to partition N
  --acks all|1|0             acknowledgement to wait for (default all)
  --compression none|gzip|snappy|lz4|zstd   batch compression (default none)

A summary goes to stderr: records acknowledged and failed; with --output json, the same as JSON
on stdout, with the first and last offset of each partition. Exit code 0 only when every record
was acknowledged (with --acks 0: sent), 1 otherwise.

${COMMON_HELP}
`

export async function runProduceCommand(argv: string[]): Promise<number> {
  let failed = false
  const code = await runCommand('fjord produce --help', async () => {
    const { values, positionals } = parseCommand(argv, {
      'key-separator': { type: 'string' },
      partition: { type: 'string' },
      acks: { type: 'string' },
      compression: { type: 'string' },
    })
    if (values.help) return void process.stdout.write(PRODUCE_USAGE)
    const [topic, ...extra] = positionals
    if (!topic) throw new UsageError('produce needs a topic name')
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`)
    const common = commonValues(values)
    const acksText = (values.acks as string | undefined) ?? 'all'
    const acks = acksText === 'all' || acksText === '-1' ? -1 : acksText === '1' ? 1 : acksText === '0' ? 0 : NaN
    if (Number.isNaN(acks)) throw new UsageError(`--acks must be all, 1 or 0, not '${acksText}'`)
    const compressionText = (values.compression as string | undefined) ?? 'none'
    let compression
    try {
      compression = compressionFromName(compressionText)
    } catch {
      throw new UsageError(`--compression must be none, gzip, snappy, lz4 or zstd, not '${compressionText}'`)
    }
    const partitionText = values.partition as string | undefined
    const partition = partitionText === undefined ? undefined : intArg(partitionText, '--partition', 0, 2 ** 31 - 1)
    const separator = values['key-separator'] as string | undefined
    if (separator === '') throw new UsageError('--key-separator must not be empty')

    await withClient(common, async (client) => {
      const producer = await Producer.create(client, { topic, acks, compression, partition, requestTimeoutMs: common.timeoutMs })
      const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
      let read = 0
      for await (const line of lines) {
        read++
        let key: Buffer | null = null
        let value = line
        if (separator !== undefined) {
          const i = line.indexOf(separator)
          if (i >= 0) {
            key = Buffer.from(line.slice(0, i))
            value = line.slice(i + separator.length)
          }
        }
        await producer.add(key, Buffer.from(value))
      }
      const outcomes = await producer.flush()
      const acked = outcomes.reduce((n, o) => n + o.records, 0)
      const lost = outcomes.reduce((n, o) => n + o.failed, 0)
      failed = acked !== read
      if (common.output === 'json') {
        process.stdout.write(JSON.stringify({ topic, records: read, acknowledged: acked, failed: lost, partitions: outcomes }) + '\n')
      }
      const verb = acks === 0 ? 'sent' : 'acknowledged'
      process.stderr.write(`${acked} of ${read} records ${verb} by ${topic}${lost > 0 ? `, ${lost} failed` : ''}\n`)
      for (const o of outcomes) {
        if (o.error) process.stderr.write(`fjord: partition ${o.partition}: ${o.failed} records failed: ${o.error}\n`)
      }
    })
  })
  return code === EXIT_OK && failed ? EXIT_FAILED : code
}
