// `fjord start` as a subprocess: the ready line and the table of processes, Ctrl-C/SIGTERM stops
// every process, and a second run on the same data directory keeps the ports.

import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { isAlive } from './pids.js'

const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url))
const dirs: string[] = []
after(() => {
  if (process.env.KEEP_TEST_DATA !== '1') for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

interface Run { bootstrap: string; pids: number[]; stop(signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string }> }

function start(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [MAIN, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`fjord start printed no table in time:\n${stdout}\n${stderr}`))
    }, 20_000)
    void exited.then((code) => reject(new Error(`fjord start exited (${code}):\n${stdout}\n${stderr}`)))
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      const ready = /^Fjord cluster \S+ ready: bootstrap (\S+)/m.exec(stdout)
      const rows = [...stdout.matchAll(/^broker\s+\d+\s+\S+\s+\S+\s+(\d+)$/gm)]
      if (!ready || rows.length < 2) return
      clearTimeout(timer)
      resolve({
        bootstrap: ready[1]!,
        pids: rows.map((r) => Number(r[1])),
        stop: async (signal) => {
          child.kill(signal)
          const code = await exited
          return { code, stdout }
        },
      })
    })
  })
}

describe('fjord start', () => {
  it('runs a cluster in the foreground until SIGINT/SIGTERM, and again on the same ports', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'fjord-start-test-'))
    dirs.push(dataDir)
    const args = ['--metadata', 'standalone', '--brokers', '2', '--zones', '2', '--port-base', '0', '--data-dir', dataDir, '--log-level', 'warn']
    const first = await start(args)
    assert.equal(first.bootstrap.split(',').length, 2)
    assert.ok(first.pids.every(isAlive))
    const r1 = await first.stop('SIGINT')
    assert.equal(r1.code, 0)
    assert.match(r1.stdout, /^broker\s+1\s+az-1\s+127\.0\.0\.1:\d+/m)
    assert.match(r1.stdout, /^broker\s+2\s+az-2\s+127\.0\.0\.1:\d+/m)
    assert.match(r1.stdout, /Fjord cluster local stopped/)
    assert.ok(!first.pids.some(isAlive), 'no broker left behind')

    const second = await start(['--data-dir', dataDir, '--log-level', 'warn'])
    assert.equal(second.bootstrap, first.bootstrap)
    const r2 = await second.stop('SIGTERM')
    assert.equal(r2.code, 0)
    assert.ok(!second.pids.some(isAlive))
  })
})
