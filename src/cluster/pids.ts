// Looking at processes by pid: liveness (a zombie counts as dead) and the command line, which is
// how an adopted process is recognised as ours (its arguments name its data directory); and
// pid-file locks on directories (the control plane's data dir).

import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'

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

/**
 * An exclusive lock on a directory held by this process: `<file>` holds `{pid}` (created with
 * link() from a fully written temp file, so it never exists half written). A lock whose pid is
 * dead, or names this process without being held by it (left by an earlier process with the same
 * pid), is stale and taken over. Throws, naming the holder's pid, when another live process (or
 * another holder in this process) has it. `release()` removes it.
 */
export interface PidLock {
  readonly file: string
  release(): void
}

const heldPidLocks = new Set<string>()

export function acquirePidLock(file: string, what: string): PidLock {
  const key = path.resolve(file)
  if (heldPidLocks.has(key)) throw new Error(`${what} is in use by this process (pid ${process.pid}): ${key} is locked`)
  const content = JSON.stringify({ pid: process.pid, since: new Date().toISOString() }) + '\n'
  for (let attempt = 0; attempt < 10; attempt++) {
    const tmp = `${key}.${process.pid}.${randomBytes(4).toString('hex')}`
    writeFileSync(tmp, content)
    try {
      linkSync(tmp, key)
      heldPidLocks.add(key)
      let released = false
      return {
        file: key,
        release() {
          if (released) return
          released = true
          heldPidLocks.delete(key)
          if (lockHolder(key) === process.pid) rmSync(key, { force: true })
        },
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    } finally {
      rmSync(tmp, { force: true })
    }
    const text = readIfExists(key)
    if (text === null) continue // released meanwhile
    const pid = parsePid(text)
    if (pid !== null && pid !== process.pid && isAlive(pid)) throw new Error(`${what} is in use by another process (pid ${pid}): ${key} is locked`)
    // Stale: move it aside (only one process can move a given file), check that it is what was read, retry.
    const aside = `${key}.stale.${process.pid}.${randomBytes(4).toString('hex')}`
    try {
      renameSync(key, aside)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw e
    }
    const moved = readIfExists(aside)
    if (moved !== null && moved !== text) {
      // Someone took the stale lock over between our read and the rename: put theirs back.
      try {
        linkSync(aside, key)
      } catch {
        /* a third process holds it now */
      }
      rmSync(aside, { force: true })
      throw new Error(`${what} is in use by another process (pid ${parsePid(moved) ?? '?'}): ${key} is locked`)
    }
    rmSync(aside, { force: true })
  }
  throw new Error(`could not take the lock ${key} (it keeps changing)`)
}

/** The pid a lock file names, or null. */
export function lockHolder(file: string): number | null {
  const text = readIfExists(file)
  return text === null ? null : parsePid(text)
}

function parsePid(text: string): number | null {
  try {
    const pid = (JSON.parse(text) as { pid?: unknown }).pid
    return typeof pid === 'number' && Number.isInteger(pid) ? pid : null
  } catch {
    return null
  }
}

function readIfExists(file: string): string | null {
  try {
    return readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
}
