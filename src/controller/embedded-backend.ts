// The embedded metadata log: the single controller's durable log in a local directory.
//
//   DIR/controller.lock    JSON {pid, id, endpoint} of the process holding the controller role;
//                          created with link() so it never exists half written. A lock whose pid
//                          is dead is stale and taken over; a live one refuses a second controller.
//   DIR/controller_epoch   the controller epoch as text, bumped on every campaign (atomic write)
//   DIR/snapshot.json      {format, nextOffset, epoch, records}: the image at history position
//                          nextOffset, written atomically (temp file, fsync, rename, fsync dir)
//   DIR/metadata.log       one frame per append call, written with one write and one fdatasync:
//                          `LLLLLLLL CCCCCCCC {"offset":N,"epoch":E,"records":[...]}\n` where L is
//                          the JSON's byte length and C its CRC-32C, both 8 hex digits
//
// Every frame carries the history position (offset) of its first record, and the snapshot the
// position it covers, so loading is "the snapshot, then the frames at or past its nextOffset":
// a crash between writing the snapshot and emptying the log (the old frames are still there)
// replays nothing twice. A frame is all or nothing: a torn last frame (a crash mid-append) is
// dropped when loading and truncated when the next controller recovers the log; an invalid frame
// followed by a valid one is corruption and fails the load rather than losing committed records.

import { crc32c } from '@node-rs/crc32'
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { NotControllerError, type ControllerCandidate, type MetadataLogBackend } from './backend.js'
import type { MetadataRecord } from './records.js'

export const EMBEDDED_LOG_FILE = 'metadata.log'
export const EMBEDDED_SNAPSHOT_FILE = 'snapshot.json'
export const EMBEDDED_EPOCH_FILE = 'controller_epoch'
export const EMBEDDED_LOCK_FILE = 'controller.lock'

const HEADER = 18 // 8 hex length, space, 8 hex crc, space
const NL = 0x0a

interface Frame {
  offset: number
  epoch: number
  records: MetadataRecord[]
}

interface SnapshotFile {
  format: 1
  nextOffset: number
  epoch: number
  records: MetadataRecord[]
}

interface LockContent {
  pid: number
  id?: number
  endpoint?: string
}

/** Directories (real paths) whose controller lock this process holds. */
const heldLocks = new Set<string>()

/** One log frame as bytes. */
export function encodeFrame(frame: Frame): Buffer {
  const json = Buffer.from(JSON.stringify(frame), 'utf8')
  const header = `${hex8(json.length)} ${hex8(crc32c(json) >>> 0)} `
  return Buffer.concat([Buffer.from(header, 'latin1'), json, Buffer.from('\n')])
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0')
}

const HEX8 = /^[0-9a-f]{8}$/

/** The frame at `at`, with its size in bytes, or null when the bytes there are not a whole valid frame. */
function decodeFrame(buf: Buffer, at: number): { frame: Frame; size: number } | null {
  if (buf.length - at < HEADER + 1) return null
  const lenHex = buf.toString('latin1', at, at + 8)
  const crcHex = buf.toString('latin1', at + 9, at + 17)
  if (!HEX8.test(lenHex) || !HEX8.test(crcHex) || buf[at + 8] !== 0x20 || buf[at + 17] !== 0x20) return null
  const len = parseInt(lenHex, 16)
  const end = at + HEADER + len
  if (end >= buf.length || buf[end] !== NL) return null
  const json = buf.subarray(at + HEADER, end)
  if ((crc32c(json) >>> 0) !== parseInt(crcHex, 16)) return null
  let frame: unknown
  try {
    frame = JSON.parse(json.toString('utf8'))
  } catch {
    return null
  }
  const f = frame as Partial<Frame> | null
  if (!f || typeof f !== 'object' || !Number.isSafeInteger(f.offset) || !Number.isSafeInteger(f.epoch) || !Array.isArray(f.records)) return null
  return { frame: f as Frame, size: HEADER + len + 1 }
}

interface Scan {
  records: MetadataRecord[]
  /** history position after the last record */
  nextOffset: number
  /** bytes of whole valid frames at the start of the log; the rest is a torn tail */
  validBytes: number
  logSize: number
  /** every frame in the log predates the snapshot (a crash before the log was emptied) */
  logPredatesSnapshot: boolean
}

/** Writes a file atomically: temp file, fsync, rename, fsync of the directory. */
export function writeFileAtomic(dir: string, name: string, data: string | Buffer): void {
  const path = join(dir, name)
  const tmp = `${path}.tmp`
  const fd = openSync(tmp, 'w')
  try {
    writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  fsyncDir(dir)
}

function writeAll(fd: number, buf: Buffer): void {
  let done = 0
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done)
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

function readIfExists(path: string): Buffer | null {
  try {
    return readFileSync(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
}

function parseLock(text: string): LockContent | null {
  const t = text.trim()
  if (/^\d+$/.test(t)) return { pid: Number(t) }
  try {
    const o = JSON.parse(t) as Partial<LockContent>
    if (o && Number.isSafeInteger(o.pid) && o.pid! > 0) return o as LockContent
  } catch {
    /* unreadable */
  }
  return null
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
  // A killed process not yet reaped by its parent is a zombie: it holds nothing any more.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true
  }
}

export class EmbeddedBackend implements MetadataLogBackend {
  readonly kind = 'embedded' as const
  private candidate: ControllerCandidate | null = null
  private epoch = 0
  private log: FileHandle | null = null
  private logSize = 0
  private nextOffset = 0
  /** An append whose failure could not be undone: the log must be recovered by a new campaign. */
  private broken: Error | null = null
  private lockKey: string | null = null
  private chain: Promise<unknown> = Promise.resolve()

  /** `dir` is created if missing; it holds only the controller's files. */
  constructor(readonly dir: string) {}

  /**
   * Takes the directory's lock (refusing when another live process holds it), bumps the
   * persisted controller epoch and recovers the log (a torn tail frame is truncated). The
   * embedded controller is never deposed: `onDeposed` is not called.
   */
  campaign(candidate: ControllerCandidate, _onDeposed: (reason: string) => void): Promise<number> {
    return this.serial(async () => {
      if (this.candidate) throw new Error(`already the active controller of ${this.dir} (epoch ${this.epoch})`)
      mkdirSync(this.dir, { recursive: true })
      this.acquireLock(candidate)
      try {
        const epochFile = readIfExists(join(this.dir, EMBEDDED_EPOCH_FILE))
        const previous = epochFile === null ? 0 : Number(epochFile.toString('utf8').trim())
        if (!Number.isSafeInteger(previous) || previous < 0) {
          throw new Error(`${join(this.dir, EMBEDDED_EPOCH_FILE)} does not hold a controller epoch: ${JSON.stringify(epochFile!.toString('utf8').slice(0, 40))}`)
        }
        const epoch = previous + 1
        writeFileAtomic(this.dir, EMBEDDED_EPOCH_FILE, `${epoch}\n`)
        await this.recover()
        this.epoch = epoch
        this.candidate = candidate
        this.broken = null
        return epoch
      } catch (e) {
        await this.closeLog()
        this.releaseLock()
        throw e
      }
    })
  }

  load(): Promise<MetadataRecord[]> {
    return this.serial(async () => this.scan().records)
  }

  append(records: MetadataRecord[]): Promise<void> {
    return this.serial(async () => {
      const log = this.requireActive()
      if (records.length === 0) return
      const frame = encodeFrame({ offset: this.nextOffset, epoch: this.epoch, records })
      const before = this.logSize
      try {
        let done = 0
        while (done < frame.length) done += (await log.write(frame, done, frame.length - done)).bytesWritten
        await log.datasync()
      } catch (e) {
        // Undo a partial write so the next append does not follow garbage; if even that fails
        // (or the fdatasync failed, after which the page cache cannot be trusted) the log is
        // recovered from disk by the next campaign.
        try {
          await log.truncate(before)
          await log.datasync()
        } catch (undo) {
          this.broken = new Error(`metadata log ${this.logPath} is in an unknown state after a failed append (${(e as Error).message}; undo failed: ${(undo as Error).message}); campaign again to recover it`)
        }
        throw e
      }
      this.logSize = before + frame.length
      this.nextOffset += records.length
    })
  }

  snapshot(records: MetadataRecord[]): Promise<void> {
    return this.serial(async () => {
      const log = this.requireActive()
      const snap: SnapshotFile = { format: 1, nextOffset: this.nextOffset, epoch: this.epoch, records }
      writeFileAtomic(this.dir, EMBEDDED_SNAPSHOT_FILE, JSON.stringify(snap))
      // A crash before this point leaves the old log beside the new snapshot: its frames are
      // all before nextOffset, so loading skips them.
      await log.truncate(0)
      await log.sync()
      this.logSize = 0
    })
  }

  async active(): Promise<ControllerCandidate | null> {
    if (this.candidate) return this.candidate
    const text = readIfExists(join(this.dir, EMBEDDED_LOCK_FILE))
    const lock = text && parseLock(text.toString('utf8'))
    if (!lock || lock.id === undefined || lock.endpoint === undefined || !pidAlive(lock.pid)) return null
    if (lock.pid === process.pid && !heldLocks.has(this.realDir())) return null
    return { id: lock.id, endpoint: lock.endpoint }
  }

  close(): Promise<void> {
    return this.serial(async () => {
      this.candidate = null
      await this.closeLog()
      this.releaseLock()
    })
  }

  /** The epoch returned by the last campaign (0 before any). */
  get controllerEpoch(): number {
    return this.epoch
  }

  private get logPath(): string {
    return join(this.dir, EMBEDDED_LOG_FILE)
  }

  private requireActive(): FileHandle {
    if (!this.candidate || !this.log) throw new NotControllerError(`not the active controller of ${this.dir}: campaign first`)
    if (this.broken) throw this.broken
    return this.log
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn)
    this.chain = p.catch(() => {})
    return p
  }

  /** Reads the snapshot and the log; never writes. */
  private scan(): Scan {
    const snapText = readIfExists(join(this.dir, EMBEDDED_SNAPSHOT_FILE))
    let records: MetadataRecord[] = []
    let snapNext = 0
    if (snapText !== null) {
      let snap: Partial<SnapshotFile>
      try {
        snap = JSON.parse(snapText.toString('utf8')) as Partial<SnapshotFile>
      } catch (e) {
        throw new Error(`metadata snapshot ${join(this.dir, EMBEDDED_SNAPSHOT_FILE)} is not valid JSON: ${(e as Error).message}`)
      }
      if (snap.format !== 1 || !Number.isSafeInteger(snap.nextOffset) || !Array.isArray(snap.records)) {
        throw new Error(`metadata snapshot ${join(this.dir, EMBEDDED_SNAPSHOT_FILE)} has an unknown format`)
      }
      records = snap.records.slice()
      snapNext = snap.nextOffset!
    }
    const buf = readIfExists(this.logPath) ?? Buffer.alloc(0)
    let at = 0
    let expected = snapNext
    let frames = 0
    let predating = 0
    while (at < buf.length) {
      const d = decodeFrame(buf, at)
      if (!d) {
        // Only the last frame can be torn (each append is one write followed by fdatasync).
        for (let nl = buf.indexOf(NL, at); nl >= 0 && nl + 1 < buf.length; nl = buf.indexOf(NL, nl + 1)) {
          if (decodeFrame(buf, nl + 1)) {
            throw new Error(`metadata log ${this.logPath} is corrupt: an invalid frame at byte ${at} is followed by a valid one at byte ${nl + 1}`)
          }
        }
        break
      }
      const { frame, size } = d
      frames++
      const end = frame.offset + frame.records.length
      if (end <= snapNext) {
        predating++ // already in the snapshot
      } else if (frame.offset > expected) {
        throw new Error(`metadata log ${this.logPath} is corrupt: the frame at byte ${at} starts at record ${frame.offset}, expected ${expected}`)
      } else if (frame.offset < expected && frame.offset >= snapNext) {
        throw new Error(`metadata log ${this.logPath} is corrupt: the frame at byte ${at} repeats records from ${frame.offset} (expected ${expected})`)
      } else {
        records.push(...frame.records.slice(expected - frame.offset))
        expected = end
      }
      at += size
    }
    return { records, nextOffset: expected, validBytes: at, logSize: buf.length, logPredatesSnapshot: frames > 0 && predating === frames }
  }

  /** Opens the log for appending, truncating a torn tail (or a log the snapshot already covers). */
  private async recover(): Promise<void> {
    const s = this.scan()
    const created = readIfExists(this.logPath) === null
    const log = await open(this.logPath, 'a')
    try {
      const keep = s.logPredatesSnapshot ? 0 : s.validBytes
      if (keep < s.logSize) {
        await log.truncate(keep)
        await log.sync()
      }
      if (created) {
        await log.sync()
        fsyncDir(this.dir)
      }
      this.log = log
      this.logSize = keep
      this.nextOffset = s.nextOffset
    } catch (e) {
      await log.close()
      throw e
    }
  }

  private async closeLog(): Promise<void> {
    const log = this.log
    this.log = null
    if (log) await log.close()
  }

  private realDir(): string {
    return realpathSync(this.dir)
  }

  private acquireLock(candidate: ControllerCandidate): void {
    const key = this.realDir()
    const lockPath = join(this.dir, EMBEDDED_LOCK_FILE)
    const content = JSON.stringify({ pid: process.pid, id: candidate.id, endpoint: candidate.endpoint } satisfies LockContent) + '\n'
    if (heldLocks.has(key)) throw new Error(`another controller (pid ${process.pid}) uses ${this.dir}`)
    for (let attempt = 0; attempt < 10; attempt++) {
      // link() of a fully written temp file: the lock never exists empty or half written
      const tmp = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}`
      writeSyncedFile(tmp, content)
      try {
        linkSync(tmp, lockPath)
        fsyncDir(this.dir)
        heldLocks.add(key)
        this.lockKey = key
        return
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      } finally {
        unlinkSync(tmp)
      }
      const text = readIfExists(lockPath)
      if (text === null) continue // released meanwhile
      const holder = parseLock(text.toString('utf8'))
      // A lock naming this process but not held by it was left by an earlier process that had
      // the same pid (a restarted container): stale.
      if (holder && holder.pid !== process.pid && pidAlive(holder.pid)) {
        throw new Error(`another controller (pid ${holder.pid}) uses ${this.dir}`)
      }
      // Stale: move it aside (only one process can move a given lock), check that what was moved
      // is the stale lock that was read, then retry.
      const aside = `${lockPath}.stale.${process.pid}.${randomBytes(4).toString('hex')}`
      try {
        renameSync(lockPath, aside)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw e
      }
      const moved = readIfExists(aside)
      if (moved !== null && !moved.equals(text)) {
        // another process took the stale lock over between our read and the rename: put it back
        try {
          linkSync(aside, lockPath)
        } catch {
          /* a third process holds it now; ours to lose */
        }
        unlinkSync(aside)
        const other = parseLock(moved.toString('utf8'))
        throw new Error(`another controller (pid ${other?.pid ?? '?'}) uses ${this.dir}`)
      }
      unlinkSync(aside)
    }
    throw new Error(`could not take the controller lock ${lockPath} (it keeps changing)`)
  }

  private releaseLock(): void {
    const key = this.lockKey
    if (!key) return
    this.lockKey = null
    heldLocks.delete(key)
    const lockPath = join(this.dir, EMBEDDED_LOCK_FILE)
    const text = readIfExists(lockPath)
    const holder = text && parseLock(text.toString('utf8'))
    if (holder && holder.pid === process.pid) {
      unlinkSync(lockPath)
      fsyncDir(this.dir)
    }
  }
}

function writeSyncedFile(path: string, data: string): void {
  const fd = openSync(path, 'w')
  try {
    writeAll(fd, Buffer.from(data, 'utf8'))
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
