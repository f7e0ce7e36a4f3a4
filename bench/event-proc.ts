// A driver process (bench/rdkafka-driver.c) that prints one JSON event per line on stdout and
// takes commands on stdin; shared by the groups and replication parts of the bench.

import { spawn, type ChildProcess } from 'node:child_process'

export class EventProc<E extends { ev: string; t: number; error?: string }> {
  readonly events: E[] = []
  private waiters: { check: () => boolean; resolve: () => void }[] = []
  private stderr = ''
  exited = false
  private readonly child: ChildProcess

  constructor(ctx: { driverPath: string; track(child: ChildProcess): void; untrack(child: ChildProcess): void }, mode: string, args: Record<string, string | number>) {
    const list = [mode]
    for (const [k, v] of Object.entries(args)) list.push(`--${k}`, String(v))
    list.push('--parent', String(process.pid))
    this.child = spawn(ctx.driverPath, list, { stdio: ['pipe', 'pipe', 'pipe'] })
    ctx.track(this.child)
    let buf = ''
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (!line.startsWith('{')) continue
        try {
          this.events.push(JSON.parse(line) as E)
        } catch {
          continue
        }
      }
      this.wake()
    })
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-2000)))
    this.child.stdin!.on('error', () => undefined)
    this.child.once('exit', () => {
      this.exited = true
      ctx.untrack(this.child)
      this.wake()
    })
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (w.check() || this.exited) {
        w.resolve()
        return false
      }
      return true
    })
  }

  /** Resolves when `check()` holds (checked on every new event); rejects on timeout or exit. */
  async until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
    if (!check()) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms; ${this.describe()}`)), timeoutMs)
        this.waiters.push({
          check,
          resolve: () => {
            clearTimeout(t)
            resolve()
          },
        })
        this.wake()
      })
    }
    if (!check()) throw new Error(`${what}: driver exited; ${this.describe()}`)
  }

  describe(): string {
    const last = this.events
      .filter((e) => e.ev !== 'ack')
      .slice(-3)
      .map((e) => JSON.stringify(e).slice(0, 400))
    const fatal = this.events.find((e) => e.ev === undefined && e.error)
    return `last events ${last.join(' ')}${fatal ? `; error ${fatal.error}` : ''}; stderr: ${this.stderr.slice(-600)}`
  }

  send(line: string): void {
    if (!this.exited) this.child.stdin!.write(line + '\n')
  }

  kill(sig: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.exited) this.child.kill(sig)
  }
}
