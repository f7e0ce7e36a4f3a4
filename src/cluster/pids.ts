// Looking at processes by pid: liveness (a zombie counts as dead) and the command line, which is
// how an adopted process is recognised as ours (its arguments name its data directory).

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** Whether `pid` names a live process (not a zombie). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return true // no /proc (or it vanished just now): trust kill(0)
  }
}

/** The arguments of `pid`, or null when they cannot be read. */
export function commandLine(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return raw.split('\0').filter((a) => a.length > 0)
  } catch {
    /* not Linux, or gone */
  }
  try {
    const out = execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    const line = out.trim()
    return line ? line.split(/\s+/) : null
  } catch {
    return null
  }
}

/**
 * Whether the live process `pid` runs `fjord <role>` on the data directory `dir`: one of its
 * arguments is `dir` itself or ends with `=dir` (`--set log.dirs=dir`).
 */
export function isOurProcess(pid: number, role: string, dir: string): boolean {
  if (!isAlive(pid)) return false
  const args = commandLine(pid)
  if (!args) return false
  return args.includes(role) && args.some((a) => a === dir || a.endsWith(`=${dir}`))
}
