// A broker's data directory belongs to one cluster: started against another cluster's controller
// it refuses (exit 1, naming both ids) instead of deleting the logs the new cluster does not know.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BROKER_ENTRY } from '../../test/helpers/paths.js'

function start(args: string[]): { child: ChildProcess; ready: Promise<string>; exit: Promise<{ code: number | null; output: string }> } {
  const child = spawn(process.execPath, [BROKER_ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const ready = new Promise<string>((resolve) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString()
      const m = /ready: (?:bootstrap )?(\S+)/.exec(output)
      if (m) resolve(m[1]!)
    })
  })
  child.stderr!.on('data', (d: Buffer) => { output += d.toString() })
  const exit = new Promise<{ code: number | null; output: string }>((resolve) => child.on('exit', (code) => resolve({ code, output })))
  return { child, ready, exit }
}

test('a broker refuses to join a cluster other than the one its data belongs to', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fjord-cluster-id-'))
  const procs: ChildProcess[] = []
  try {
    const first = start(['controller', '--listeners', '127.0.0.1:0', '--log-dirs', join(dir, 'c1')])
    procs.push(first.child)
    const c1 = await first.ready
    const broker = start(['broker', '--broker-id', '1', '--set', 'listeners=127.0.0.1:0', '--set', `log.dirs=${join(dir, 'b')}`, '--set', `controller.endpoints=${c1}`])
    procs.push(broker.child)
    await broker.ready
    const meta = readFileSync(join(dir, 'b', 'meta.properties'), 'utf8')
    const clusterId = /cluster\.id=(\S+)/.exec(meta)![1]!
    broker.child.kill('SIGKILL')
    first.child.kill('SIGKILL')

    const second = start(['controller', '--listeners', '127.0.0.1:0', '--log-dirs', join(dir, 'c2')])
    procs.push(second.child)
    const c2 = await second.ready
    const again = start(['broker', '--broker-id', '1', '--set', 'listeners=127.0.0.1:0', '--set', `log.dirs=${join(dir, 'b')}`, '--set', `controller.endpoints=${c2}`])
    procs.push(again.child)
    const { code, output } = await again.exit
    assert.equal(code, 1, output)
    assert.match(output, new RegExp(`belongs to cluster ${clusterId}`))
    assert.ok(existsSync(join(dir, 'b', 'meta.properties')))
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
})
