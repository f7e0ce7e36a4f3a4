// What every client-side fjord command shares: the common flags, argument parsing with usage
// errors, table and JSON output, and the exit codes scripts rely on:
//   0  done
//   1  the operation failed: a Kafka error (printed as NAME: message), or the cluster was unreachable
//   2  usage error (bad flags or arguments)

import { parseArgs, type ParseArgsConfig } from 'node:util'
import { KafkaError } from '../protocol/errors.js'
import { ClientError, KafkaClient } from './kafka-client.js'

export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2

export class UsageError extends Error {
  override name = 'UsageError'
}

export type OutputFormat = 'table' | 'json'

export const COMMON_OPTIONS = {
  'bootstrap-server': { type: 'string' },
  output: { type: 'string', short: 'o' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options']

export const COMMON_HELP = `Common options:
  --bootstrap-server HOST:PORT[,HOST:PORT]  brokers to start from (default 127.0.0.1:9092; env FJORD_BOOTSTRAP)
  -o, --output table|json                   aligned tables for people (default) or JSON for scripts
  --timeout MS                              deadline of each request (default 30000)
  -h, --help                                this help

Exit codes: 0 done, 1 the operation failed (a Kafka error, printed as NAME: message, or the
cluster was unreachable), 2 usage error.`

export interface CommonValues {
  bootstrap: string
  output: OutputFormat
  timeoutMs: number
}

type Options = NonNullable<ParseArgsConfig['options']>

/** parseArgs with the common options added; its complaints become usage errors. */
export function parseCommand<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

export function commonValues(values: Record<string, unknown>): CommonValues {
  const output = (values['output'] as string | undefined) ?? 'table'
  if (output !== 'table' && output !== 'json') throw new UsageError(`--output must be table or json, not '${output}'`)
  const timeoutText = values['timeout'] as string | undefined
  const timeoutMs = timeoutText === undefined ? 30_000 : Number(timeoutText)
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError(`--timeout must be a positive number of milliseconds, not '${timeoutText}'`)
  const bootstrap = (values['bootstrap-server'] as string | undefined) ?? process.env.FJORD_BOOTSTRAP ?? '127.0.0.1:9092'
  return { bootstrap, output, timeoutMs }
}

/** A whole number in [min, max], or a usage error naming the flag. */
export function intArg(text: string, what: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${what} must be a whole number${min > Number.MIN_SAFE_INTEGER ? ` >= ${min}` : ''}, not '${text}'`)
  return n
}

export async function withClient<T>(common: CommonValues, fn: (client: KafkaClient) => Promise<T>): Promise<T> {
  const client = await KafkaClient.connect(common.bootstrap, { requestTimeoutMs: common.timeoutMs })
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

/** Left-aligned columns separated by two spaces, like Kafka's tools; null prints as '-'. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number | null)[])[]): string {
  const cells = [headers.map(String), ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n'
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

/**
 * Runs one command and turns its outcome into an exit code, printing failures to stderr:
 * usage errors with a pointer to --help, Kafka errors as NAME: message; `failure` maps a
 * command's own errors to a message and an exit code.
 */
export async function runCommand(helpHint: string, fn: () => Promise<void>, failure?: (err: unknown) => { message: string; code: number } | undefined): Promise<number> {
  try {
    await fn()
    return EXIT_OK
  } catch (err) {
    // a command's own failures (the MSK API's, for fjord cluster) first
    const own = failure?.(err)
    if (own) {
      process.stderr.write(`fjord: ${own.message}\n`)
      return own.code
    }
    if (err instanceof UsageError) {
      process.stderr.write(`fjord: ${err.message}\nRun '${helpHint}' for usage.\n`)
      return EXIT_USAGE
    }
    if (err instanceof KafkaError) {
      process.stderr.write(`fjord: ${err.error.name}: ${err.message}\n`)
      return EXIT_FAILED
    }
    if (err instanceof ClientError) {
      process.stderr.write(`fjord: ${err.message}\n`)
      return EXIT_FAILED
    }
    // A bug of ours rather than a failed operation: show where.
    process.stderr.write(`fjord: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    return EXIT_FAILED
  }
}
