// The metadata log in ZooKeeper (node-zookeeper-client), for controllers that fail over:
//
//   <root>/controller             ephemeral: JSON {id, endpoint, epoch} of the active controller
//   <root>/controller_epoch       persistent: the controller epoch as text; its znode version is
//                                 the fencing token every write of the active controller checks
//   <root>/metadata/log/r-<seq>   persistent-sequential, one per append call (or per part of an
//                                 append over ~900 KB): JSON {batch, part, parts, epoch, records}
//   <root>/metadata/snapshot      JSON {lastSeq, records}, or {lastSeq, chunks} naming znodes in
//                                 <root>/metadata/snapshot-chunks/ (JSON {records}) when the
//                                 records do not fit one znode (ZooKeeper's 1 MB limit)
//
// campaign() creates the controller znode and bumps controller_epoch in one multi (versioned, so
// two candidates cannot both win); a candidate that finds the znode taken watches it and retries
// when it goes. Every append is a multi: check(controller_epoch, our version) + create(r-), so a
// deposed controller can never write. An append whose outcome is unknown (the connection dropped
// before the answer) is resolved, not guessed: once reconnected, the controller re-writes its own
// epoch with a versioned setData, which makes any of its requests still in flight fail their
// check, then looks for its batch among the log znodes; it retries only when the batch is not
// there. The controller is deposed (onDeposed, once; appends then reject) when its session
// expires or stays disconnected past the session timeout, when its controller znode is deleted or
// owned by another session, or when controller_epoch moves past its epoch.
//
// load() reads the snapshot, then the log znodes after its lastSeq in sequence order; a batch
// whose parts are not all there (its writer was deposed or died between parts) is skipped.
// snapshot() writes the chunks, switches the snapshot znode (with the epoch check), then deletes
// the log znodes it covers and chunks of older snapshots, in multis with the epoch check.

import zookeeper from 'node-zookeeper-client'
import type { Client, Stat, Transaction } from 'node-zookeeper-client'
import { randomBytes } from 'node:crypto'
import { NotControllerError, type ControllerCandidate, type MetadataLogBackend } from './backend.js'
import type { MetadataRecord } from './records.js'

const { CreateMode, Event, Exception, State } = zookeeper

export interface ZooKeeperBackendOptions {
  /** Root znode of this cluster's data (default `/fjord`); created when missing. */
  root?: string
  /** Session timeout asked of ZooKeeper, ms (default 18000, Kafka's zookeeper.session.timeout.ms). The server bounds it by its min/maxSessionTimeout. */
  sessionTimeoutMs?: number
  /** How long to wait for a connection before failing, ms (default: the session timeout). */
  connectTimeoutMs?: number
}

/** The most bytes of data put in one znode (ZooKeeper refuses requests over 1 MB, jute.maxbuffer). */
export const ZNODE_DATA_LIMIT = 900_000
const DELETES_PER_MULTI = 500
const READ_WINDOW = 64

/** A ZooKeeper error with its code name (NO_NODE, BAD_VERSION, ...). */
export class ZooKeeperError extends Error {
  override name = 'ZooKeeperError'
  constructor(
    message: string,
    readonly code: number,
    readonly codeName: string,
  ) {
    super(message)
  }
}

/** The session this backend used is gone (expired, closed, or disconnected past its timeout). */
class SessionLost extends Error {
  override name = 'SessionLost'
}

interface LogEntry {
  batch: string
  part: number
  parts: number
  epoch: number
  records: MetadataRecord[]
}

interface SnapshotData {
  lastSeq: number
  records?: MetadataRecord[]
  chunks?: string[]
}

function codeOf(e: unknown): number | undefined {
  if (e instanceof ZooKeeperError) return e.code
  if (e instanceof Exception) return (e as InstanceType<typeof Exception>).getCode()
  return undefined
}

function wrap(e: unknown, what: string): Error {
  if (e instanceof Exception) {
    const ex = e as InstanceType<typeof Exception>
    return new ZooKeeperError(`ZooKeeper ${what}: ${ex.getName()}`, ex.getCode(), ex.getName())
  }
  return e instanceof Error ? e : new Error(String(e))
}

function seqOf(name: string): number {
  const m = /^r-(\d+)$/.exec(name)
  return m ? Number(m[1]) : -1
}

function parseJson<T>(data: Buffer | undefined | null, what: string): T {
  try {
    return JSON.parse((data ?? Buffer.alloc(0)).toString('utf8')) as T
  } catch (e) {
    throw new Error(`${what} does not hold valid JSON: ${(e as Error).message}`)
  }
}

/** Splits records into groups whose JSON (with `envelope` bytes around) stays under the znode limit. */
function chunkRecords(records: MetadataRecord[], envelope: number): MetadataRecord[][] {
  const out: MetadataRecord[][] = []
  let cur: MetadataRecord[] = []
  let size = envelope
  for (const r of records) {
    const n = Buffer.byteLength(JSON.stringify(r)) + 1
    if (n + envelope > ZNODE_DATA_LIMIT) throw new Error(`a metadata record of ${n} bytes does not fit a znode (${ZNODE_DATA_LIMIT} bytes): ${JSON.stringify(r).slice(0, 200)}`)
    if (size + n > ZNODE_DATA_LIMIT && cur.length > 0) {
      out.push(cur)
      cur = []
      size = envelope
    }
    cur.push(r)
    size += n
  }
  if (cur.length > 0) out.push(cur)
  return out
}

export class ZooKeeperBackend implements MetadataLogBackend {
  readonly kind = 'zookeeper' as const
  readonly root: string
  private readonly sessionTimeoutMs: number
  private readonly connectTimeoutMs: number
  private readonly paths: { controller: string; epoch: string; log: string; logPrefix: string; snapshot: string; chunks: string }

  private client: Client | null = null
  private connecting: Promise<Client> | null = null
  private lostTimer: NodeJS.Timeout | null = null
  /** rejecters of the requests in flight, failed at once when the session is lost */
  private readonly inFlight = new Set<(e: Error) => void>()
  /** woken on every connection state change and watch event the campaign waits for */
  private readonly waiters = new Set<() => void>()
  private closed = false

  private candidate: ControllerCandidate | null = null
  private campaigning = false
  private epoch = 0
  private epochVersion = -1
  private sessionOfRole: string | null = null
  private onDeposed: ((reason: string) => void) | null = null
  private deposedReason: string | null = null
  private lastSeq = -1
  private batchCounter = 0
  private chain: Promise<unknown> = Promise.resolve()

  /**
   * `connectString` is ZooKeeper's `host:port[,host:port...]` (a `/chroot` suffix is allowed).
   * Nothing connects until the first call.
   */
  constructor(
    readonly connectString: string,
    options: ZooKeeperBackendOptions = {},
  ) {
    if (!/^[^\s,/]+:\d+(,[^\s,/]+:\d+)*(\/\S*)?$/.test(connectString)) {
      throw new Error(`invalid ZooKeeper connect string ${JSON.stringify(connectString)}: expected host:port[,host:port...]`)
    }
    const root = (options.root ?? '/fjord').replace(/\/+$/, '')
    if (!root.startsWith('/') || root.length < 2) throw new Error(`invalid ZooKeeper root ${JSON.stringify(options.root)}: expected an absolute path like /fjord`)
    this.root = root
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 18_000
    this.connectTimeoutMs = options.connectTimeoutMs ?? this.sessionTimeoutMs
    this.paths = {
      controller: `${root}/controller`,
      epoch: `${root}/controller_epoch`,
      log: `${root}/metadata/log`,
      logPrefix: `${root}/metadata/log/r-`,
      snapshot: `${root}/metadata/snapshot`,
      chunks: `${root}/metadata/snapshot-chunks`,
    }
  }

  // ---- the interface ----

  async campaign(candidate: ControllerCandidate, onDeposed: (reason: string) => void): Promise<number> {
    if (this.campaigning || (this.candidate && !this.deposedReason)) throw new Error(`already campaigning or active in ${this.root}`)
    this.campaigning = true
    this.candidate = null
    this.deposedReason = null
    try {
      const data = (epoch: number): Buffer => Buffer.from(JSON.stringify({ id: candidate.id, endpoint: candidate.endpoint, epoch }))
      for (;;) {
        if (this.closed) throw new Error(`closed while campaigning for the controller role in ${this.root}`)
        try {
          const client = await this.connect()
          await this.ensureLayout(client)
          const cur = await this.getData(client, this.paths.epoch)
          const epoch = this.parseEpoch(cur.data) + 1
          try {
            const results = await this.multi(client, 'claim the controller role', (t) =>
              t.create(this.paths.controller, data(epoch), CreateMode.EPHEMERAL).setData(this.paths.epoch, Buffer.from(String(epoch)), cur.stat.version),
            )
            return this.won(client, candidate, onDeposed, epoch, (results[1] as { stat: Stat }).stat.version)
          } catch (e) {
            const code = codeOf(e)
            if (code === Exception.BAD_VERSION) continue // the epoch moved meanwhile: read it again
            if (code !== Exception.NODE_EXISTS && code !== Exception.CONNECTION_LOSS) throw e
            if (code === Exception.CONNECTION_LOSS) await this.waitConnected(client)
          }
          // Someone holds the role, or our own claim's answer was lost: look at the znode.
          const wake = this.waitForWake()
          const holder = await this.getData(client, this.paths.controller, this.wakeAll).catch((e) => {
            if (codeOf(e) === Exception.NO_NODE) return null
            throw e
          })
          if (!holder) continue
          if (holder.stat.ephemeralOwner.equals(client.getSessionId())) {
            // our claim went through before the connection dropped
            const mine = parseJson<{ epoch: number }>(holder.data, this.paths.controller)
            const now = await this.getData(client, this.paths.epoch)
            if (this.parseEpoch(now.data) !== mine.epoch) {
              await this.removeIfOwned(client)
              continue
            }
            return this.won(client, candidate, onDeposed, mine.epoch, now.stat.version)
          }
          await wake // the holder's znode changed or went, or the connection changed
        } catch (e) {
          if (e instanceof SessionLost) continue // a new session campaigns again
          throw e
        }
      }
    } finally {
      this.campaigning = false
    }
  }

  async load(): Promise<MetadataRecord[]> {
    const client = await this.connect()
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.loadOnce(client)
      } catch (e) {
        // a compaction ran while reading (a znode went, the snapshot changed): read again
        if (attempt < 5 && (e instanceof Changed || codeOf(e) === Exception.NO_NODE)) continue
        throw e instanceof Changed ? new Error(`the metadata in ${this.root} kept changing while it was read`) : e
      }
    }
  }

  append(records: MetadataRecord[]): Promise<void> {
    return this.serial(async () => {
      const client = await this.requireActive()
      if (records.length === 0) return
      const parts = chunkRecords(records, 200)
      const batch = `${this.sessionOfRole}-${this.epoch}-${++this.batchCounter}`
      for (let part = 0; part < parts.length; part++) {
        const entry: LogEntry = { batch, part, parts: parts.length, epoch: this.epoch, records: parts[part]! }
        await this.appendEntry(client, entry)
      }
    })
  }

  snapshot(records: MetadataRecord[]): Promise<void> {
    return this.serial(async () => {
      const client = await this.requireActive()
      try {
        await this.snapshotAs(client, records)
      } catch (e) {
        throw await this.fencingError(e)
      }
    })
  }

  async active(): Promise<ControllerCandidate | null> {
    try {
      const client = await this.connect()
      const { data } = await this.getData(client, this.paths.controller)
      const c = parseJson<{ id: number; endpoint: string }>(data, this.paths.controller)
      return { id: c.id, endpoint: c.endpoint }
    } catch {
      return null // none (NO_NODE), or unknown
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.candidate = null
    this.onDeposed = null
    // Fail the requests in flight first: an append waiting for a reconnection must not hold
    // close() up until the session times out.
    const client = this.client
    this.dropClient(new SessionLost('the ZooKeeper backend was closed'))
    await this.chain.catch(() => {})
    if (client) await closeClient(client)
  }

  /** The epoch the last won campaign returned (0 before). */
  get controllerEpoch(): number {
    return this.epoch
  }

  // ---- controller role ----

  private won(client: Client, candidate: ControllerCandidate, onDeposed: (reason: string) => void, epoch: number, version: number): number {
    this.candidate = candidate
    this.onDeposed = onDeposed
    this.deposedReason = null
    this.epoch = epoch
    this.epochVersion = version
    this.sessionOfRole = client.getSessionId().toString('hex')
    void this.verifyRole(client)
    return epoch
  }

  private readonly onRoleWatch = (): void => {
    if (this.client && this.candidate && !this.deposedReason) void this.verifyRole(this.client)
  }

  /** Checks (and re-watches) the controller znode and controller_epoch; deposes on a change. */
  private async verifyRole(client: Client): Promise<void> {
    try {
      const holder = await this.getData(client, this.paths.controller, this.onRoleWatch).catch((e) => {
        if (codeOf(e) === Exception.NO_NODE) return null
        throw e
      })
      if (client !== this.client || !this.candidate || this.deposedReason) return
      if (!holder) return this.depose('the controller znode was deleted')
      if (!holder.stat.ephemeralOwner.equals(client.getSessionId())) {
        return this.depose(`the controller znode now belongs to another session: ${holder.data.toString('utf8')}`)
      }
      const e = await this.getData(client, this.paths.epoch, this.onRoleWatch)
      if (client !== this.client || !this.candidate || this.deposedReason) return
      const epoch = this.parseEpoch(e.data)
      if (epoch !== this.epoch) return this.depose(`the controller epoch moved from ${this.epoch} to ${epoch}`)
    } catch {
      // connection lost: verified again on reconnection; a lost session deposes by itself
    }
  }

  private depose(reason: string): void {
    if (!this.candidate || this.deposedReason) return
    this.deposedReason = reason
    const cb = this.onDeposed
    this.onDeposed = null
    // Give the role up for good: a controller znode still ours would block the others.
    const client = this.client
    if (client) void this.removeIfOwned(client).catch(() => {})
    if (cb) {
      try {
        cb(reason)
      } catch {
        /* the callback's own failure is not ours to handle */
      }
    }
  }

  private async removeIfOwned(client: Client): Promise<void> {
    try {
      const holder = await this.getData(client, this.paths.controller)
      if (holder.stat.ephemeralOwner.equals(client.getSessionId())) await this.call<void>(client, `delete ${this.paths.controller}`, (cb) => client.remove(this.paths.controller, holder.stat.version, cb))
    } catch (e) {
      if (codeOf(e) !== Exception.NO_NODE && codeOf(e) !== Exception.BAD_VERSION) throw e
    }
  }

  private async requireActive(): Promise<Client> {
    if (this.closed) throw new NotControllerError(`the ZooKeeper backend for ${this.root} is closed`)
    if (!this.candidate) throw new NotControllerError(`not the active controller of ${this.root}: campaign first`, await this.active())
    if (this.deposedReason || !this.client) throw new NotControllerError(`no longer the active controller of ${this.root}: ${this.deposedReason ?? 'session lost'}`, await this.active())
    return this.client
  }

  /** A NotControllerError (and deposition) for a fencing failure; other errors unchanged. */
  private async fencingError(e: unknown): Promise<Error> {
    const code = codeOf(e)
    if (e instanceof NotControllerError) return e
    if (e instanceof SessionLost || code === Exception.SESSION_EXPIRED) {
      this.depose(`the ZooKeeper session was lost (${(e as Error).message})`)
    } else if (code === Exception.BAD_VERSION || code === Exception.NO_NODE) {
      this.depose(`controller_epoch no longer matches epoch ${this.epoch}: another controller took over`)
    } else {
      return wrap(e, 'write')
    }
    return new NotControllerError(`no longer the active controller of ${this.root}: ${this.deposedReason ?? (e as Error).message}`, await this.active())
  }

  // ---- the log ----

  private async appendEntry(client: Client, entry: LogEntry): Promise<void> {
    const data = Buffer.from(JSON.stringify(entry))
    for (;;) {
      try {
        if (this.deposedReason) throw new NotControllerError(`no longer the active controller of ${this.root}: ${this.deposedReason}`, await this.active())
        const results = await this.multi(client, 'append', (t) =>
          t.check(this.paths.epoch, this.epochVersion).create(this.paths.logPrefix, data, CreateMode.PERSISTENT_SEQUENTIAL),
        )
        this.noteSeq(seqOf(String((results[1] as { path: string }).path).slice(this.paths.log.length + 1)))
        return
      } catch (e) {
        if (codeOf(e) !== Exception.CONNECTION_LOSS) throw await this.fencingError(e)
      }
      // The answer was lost: the entry may or may not be written.
      try {
        if (await this.findAfterFencing(client, entry)) return
      } catch (e) {
        throw await this.fencingError(e)
      }
    }
  }

  /**
   * After a lost answer: fences our own requests still in flight (by moving controller_epoch's
   * version with a setData of the same epoch), then looks for the entry in the log.
   */
  private async findAfterFencing(client: Client, entry: LogEntry): Promise<boolean> {
    for (;;) {
      await this.waitConnected(client)
      try {
        const stat = await this.call<Stat>(client, `fence ${this.paths.epoch}`, (cb) => client.setData(this.paths.epoch, Buffer.from(String(this.epoch)), this.epochVersion, cb))
        this.epochVersion = stat.version
        break
      } catch (e) {
        const code = codeOf(e)
        if (code === Exception.CONNECTION_LOSS) continue
        if (code !== Exception.BAD_VERSION) throw e
        // Our own earlier fence may have gone through unanswered: same epoch, newer version.
        const now = await this.getData(client, this.paths.epoch)
        if (this.parseEpoch(now.data) !== this.epoch) throw e
        this.epochVersion = now.stat.version
      }
    }
    const names = (await this.getChildren(client, this.paths.log)).filter((n) => seqOf(n) > this.lastSeq).sort((a, b) => seqOf(a) - seqOf(b))
    for (const name of names) {
      const got = await this.getData(client, `${this.paths.log}/${name}`)
      const e = parseJson<LogEntry>(got.data, `${this.paths.log}/${name}`)
      if (e.batch === entry.batch && e.part === entry.part) {
        this.noteSeq(seqOf(name))
        return true
      }
    }
    return false
  }

  private noteSeq(seq: number): void {
    if (seq > this.lastSeq) this.lastSeq = seq
  }

  private async loadOnce(client: Client): Promise<MetadataRecord[]> {
    const snap = await this.readSnapshot(client)
    const names = (
      await this.getChildren(client, this.paths.log).catch((e) => {
        if (codeOf(e) === Exception.NO_NODE) return [] // nothing was ever written under this root
        throw e
      })
    )
      .filter((n) => seqOf(n) > snap.lastSeq)
      .sort((a, b) => seqOf(a) - seqOf(b))
    const entries = await this.readAll(client, names.map((n) => `${this.paths.log}/${n}`))
    // the snapshot must not have moved meanwhile (a compaction deletes the log it covers)
    const again = await this.exists(client, this.paths.snapshot)
    if ((again?.mzxid.toString('hex') ?? null) !== snap.mzxid) throw new Changed()
    const records = snap.records
    let i = 0
    while (i < entries.length) {
      const first = parseJson<LogEntry>(entries[i], `${this.paths.log}/${names[i]}`)
      const group = [first]
      let j = i + 1
      while (j < entries.length && group.length < first.parts) {
        const e = parseJson<LogEntry>(entries[j], `${this.paths.log}/${names[j]}`)
        if (e.batch !== first.batch) break
        group.push(e)
        j++
      }
      // all or nothing: a batch missing a part (its writer was deposed or died) is skipped
      if (group.length === first.parts && group.every((e, k) => e.part === k)) for (const e of group) records.push(...e.records)
      i = j
    }
    for (const n of names) this.noteSeq(seqOf(n))
    this.noteSeq(snap.lastSeq)
    return records
  }

  private async readSnapshot(client: Client): Promise<{ lastSeq: number; records: MetadataRecord[]; mzxid: string | null }> {
    let got: { data: Buffer; stat: Stat }
    try {
      got = await this.getData(client, this.paths.snapshot)
    } catch (e) {
      if (codeOf(e) === Exception.NO_NODE) return { lastSeq: -1, records: [], mzxid: null }
      throw e
    }
    const mzxid = got.stat.mzxid.toString('hex')
    if (!got.data || got.data.length === 0) return { lastSeq: -1, records: [], mzxid }
    const s = parseJson<SnapshotData>(got.data, this.paths.snapshot)
    if (!Number.isSafeInteger(s.lastSeq)) throw new Error(`${this.paths.snapshot} has no lastSeq`)
    if (s.records) return { lastSeq: s.lastSeq, records: s.records.slice(), mzxid }
    const records: MetadataRecord[] = []
    const chunks = await this.readAll(client, (s.chunks ?? []).map((c) => `${this.paths.chunks}/${c}`))
    chunks.forEach((d, k) => records.push(...parseJson<{ records: MetadataRecord[] }>(d, `${this.paths.chunks}/${s.chunks![k]}`).records))
    return { lastSeq: s.lastSeq, records, mzxid }
  }

  private async snapshotAs(client: Client, records: MetadataRecord[]): Promise<void> {
    const prev = await this.readSnapshotHead(client)
    const logNames = await this.getChildren(client, this.paths.log)
    const lastSeq = Math.max(prev.lastSeq, this.lastSeq, ...logNames.map(seqOf))
    let data: Buffer = Buffer.from(JSON.stringify({ lastSeq, records } satisfies SnapshotData))
    let chunkNames: string[] = []
    if (data.length > ZNODE_DATA_LIMIT) {
      const id = `${this.epoch}-${Date.now()}-${randomBytes(3).toString('hex')}`
      const chunks = chunkRecords(records, 100)
      chunkNames = chunks.map((_, k) => `${id}-${String(k).padStart(6, '0')}`)
      for (let k = 0; k < chunks.length; k++) {
        const path = `${this.paths.chunks}/${chunkNames[k]}`
        const body = Buffer.from(JSON.stringify({ records: chunks[k] }))
        await this.fencedIdempotent(client, `write ${path}`, (t) => t.check(this.paths.epoch, this.epochVersion).create(path, body, CreateMode.PERSISTENT), [Exception.NODE_EXISTS])
      }
      data = Buffer.from(JSON.stringify({ lastSeq, chunks: chunkNames } satisfies SnapshotData))
    }
    // the switch: from here on loading reads the new snapshot and the log after lastSeq
    await this.fencedIdempotent(client, `write ${this.paths.snapshot}`, (t) =>
      prev.exists ? t.check(this.paths.epoch, this.epochVersion).setData(this.paths.snapshot, data, -1) : t.check(this.paths.epoch, this.epochVersion).create(this.paths.snapshot, data, CreateMode.PERSISTENT),
    ).catch(async (e) => {
      if (prev.exists || codeOf(e) !== Exception.NODE_EXISTS) throw e
      // created by our own lost-answer attempt: set it again
      await this.fencedIdempotent(client, `write ${this.paths.snapshot}`, (t) => t.check(this.paths.epoch, this.epochVersion).setData(this.paths.snapshot, data, -1))
    })
    this.noteSeq(lastSeq)
    // compaction: the log the snapshot covers, and the chunks of older snapshots
    const keep = new Set(chunkNames)
    const doomed = [
      ...logNames.filter((n) => seqOf(n) >= 0 && seqOf(n) <= lastSeq).map((n) => `${this.paths.log}/${n}`),
      ...(await this.getChildren(client, this.paths.chunks)).filter((n) => !keep.has(n)).map((n) => `${this.paths.chunks}/${n}`),
    ]
    for (let k = 0; k < doomed.length; k += DELETES_PER_MULTI) {
      const some = doomed.slice(k, k + DELETES_PER_MULTI)
      await this.fencedIdempotent(client, 'delete compacted znodes', (t) => {
        t.check(this.paths.epoch, this.epochVersion)
        for (const p of some) t.remove(p, -1)
        return t
      }, [Exception.NO_NODE], async () => {
        // a lost answer: some are gone already; delete the rest one by one
        for (const p of some) {
          await this.fencedIdempotent(client, `delete ${p}`, (t) => t.check(this.paths.epoch, this.epochVersion).remove(p, -1), [Exception.NO_NODE])
        }
      })
    }
  }

  private async readSnapshotHead(client: Client): Promise<{ exists: boolean; lastSeq: number }> {
    try {
      const got = await this.getData(client, this.paths.snapshot)
      if (!got.data || got.data.length === 0) return { exists: true, lastSeq: -1 }
      return { exists: true, lastSeq: parseJson<SnapshotData>(got.data, this.paths.snapshot).lastSeq }
    } catch (e) {
      if (codeOf(e) === Exception.NO_NODE) return { exists: false, lastSeq: -1 }
      throw e
    }
  }

  /**
   * A multi with the epoch check whose repetition is harmless: a lost answer is retried once
   * reconnected (after fencing our own requests in flight); `okCodes` count as done (e.g. the
   * node a retry creates exists already), handled by `onOk` when given.
   */
  private async fencedIdempotent(client: Client, what: string, build: (t: Transaction) => Transaction, okCodes: number[] = [], onOk?: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        await this.multi(client, what, build)
        return
      } catch (e) {
        const code = codeOf(e)
        if (code !== undefined && okCodes.includes(code)) {
          if (onOk) await onOk()
          return
        }
        if (code !== Exception.CONNECTION_LOSS) throw e
      }
      await this.waitConnected(client)
    }
  }

  // ---- connection ----

  private connect(): Promise<Client> {
    if (this.closed) return Promise.reject(new Error(`the ZooKeeper backend for ${this.root} is closed`))
    if (this.client) return Promise.resolve(this.client)
    if (this.connecting) return this.connecting
    const p = new Promise<Client>((resolve, reject) => {
      const client = zookeeper.createClient(this.connectString, { sessionTimeout: this.sessionTimeoutMs, spinDelay: 250, retries: 0 })
      const timer = setTimeout(() => {
        client.removeListener('state', onState)
        void closeClient(client)
        reject(new Error(`cannot connect to ZooKeeper at ${this.connectString} within ${this.connectTimeoutMs} ms: is it running and reachable?`))
      }, this.connectTimeoutMs)
      const onState = (state: InstanceType<typeof State>): void => {
        if (state === State.SYNC_CONNECTED) {
          clearTimeout(timer)
          client.removeListener('state', onState)
          if (this.closed) {
            void closeClient(client)
            reject(new Error(`the ZooKeeper backend for ${this.root} is closed`))
            return
          }
          this.client = client
          client.on('state', (s: InstanceType<typeof State>) => this.onClientState(client, s))
          resolve(client)
        } else if (state === State.AUTH_FAILED || state === State.EXPIRED) {
          clearTimeout(timer)
          client.removeListener('state', onState)
          void closeClient(client)
          reject(new Error(`ZooKeeper at ${this.connectString} refused the session (${state.name})`))
        }
      }
      client.on('state', onState)
      client.connect()
    })
    this.connecting = p
    const clear = (): void => {
      if (this.connecting === p) this.connecting = null
    }
    p.then(clear, clear)
    return p
  }

  private onClientState(client: Client, state: InstanceType<typeof State>): void {
    if (client !== this.client) return
    if (state === State.DISCONNECTED) {
      if (!this.lostTimer) {
        // Past the session timeout the session is as good as expired: the server will have
        // ended it and another controller may be active.
        const timeout = client.getSessionTimeout() || this.sessionTimeoutMs
        this.lostTimer = setTimeout(() => this.sessionLost(client, `disconnected from ZooKeeper at ${this.connectString} for longer than the session timeout (${timeout} ms)`), timeout)
        this.lostTimer.unref()
      }
    } else if (state === State.SYNC_CONNECTED) {
      if (this.lostTimer) clearTimeout(this.lostTimer)
      this.lostTimer = null
      this.onRoleWatch()
    } else if (state === State.EXPIRED) {
      this.sessionLost(client, 'the ZooKeeper session expired')
    } else if (state === State.AUTH_FAILED) {
      this.sessionLost(client, 'ZooKeeper authentication failed')
    }
    this.wakeAll()
  }

  private sessionLost(client: Client, reason: string): void {
    if (client !== this.client) return
    this.dropClient(new SessionLost(reason))
    void closeClient(client)
    this.depose(reason)
  }

  private dropClient(error: Error): void {
    this.client = null
    if (this.lostTimer) clearTimeout(this.lostTimer)
    this.lostTimer = null
    for (const reject of [...this.inFlight]) reject(error)
    this.inFlight.clear()
    this.wakeAll()
  }

  private async waitConnected(client: Client): Promise<void> {
    for (;;) {
      if (client !== this.client) throw new SessionLost(this.deposedReason ?? 'the ZooKeeper session was lost')
      if (client.getState() === State.SYNC_CONNECTED) return
      await this.waitForWake()
    }
  }

  private readonly wakeAll = (): void => {
    const ws = [...this.waiters]
    this.waiters.clear()
    for (const w of ws) w()
  }

  private waitForWake(): Promise<void> {
    return new Promise((resolve) => this.waiters.add(resolve))
  }

  // ---- requests ----

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn)
    this.chain = p.catch(() => {})
    return p
  }

  /** One request; rejects at once when the session is lost. */
  private call<T>(client: Client, what: string, fn: (cb: (err: Error | InstanceType<typeof Exception> | null, result?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (client !== this.client) {
        reject(new SessionLost(this.deposedReason ?? 'the ZooKeeper session was lost'))
        return
      }
      let done = false
      const fail = (e: Error): void => {
        if (done) return
        done = true
        this.inFlight.delete(fail)
        reject(e)
      }
      this.inFlight.add(fail)
      try {
        fn((err, result) => {
          if (done) return
          done = true
          this.inFlight.delete(fail)
          if (err && codeOf(err) === Exception.SESSION_EXPIRED) {
            this.sessionLost(client, 'the ZooKeeper session expired')
            reject(new SessionLost('the ZooKeeper session expired'))
          } else if (err) reject(err instanceof Exception ? wrapKeepCode(err, what) : err)
          else resolve(result as T)
        })
      } catch (e) {
        fail(e as Error)
      }
    })
  }

  private getData(client: Client, path: string, watcher?: () => void): Promise<{ data: Buffer; stat: Stat }> {
    return new Promise((resolve, reject) => {
      let got: { data: Buffer; stat: Stat } | null = null
      this.call<void>(client, `read ${path}`, (cb) => {
        const done = (err: Error | InstanceType<typeof Exception> | null, data: Buffer, stat: Stat): void => {
          got = { data, stat }
          cb(err)
        }
        if (watcher) client.getData(path, watcher, done)
        else client.getData(path, done)
      }).then(() => resolve(got!), reject)
    })
  }

  private async exists(client: Client, path: string): Promise<Stat | null> {
    const stat = await this.call<Stat>(client, `stat ${path}`, (cb) => client.exists(path, cb))
    return stat ?? null
  }

  private getChildren(client: Client, path: string): Promise<string[]> {
    return this.call<string[]>(client, `list ${path}`, (cb) => client.getChildren(path, (err, children) => cb(err, children)))
  }

  private multi(client: Client, what: string, build: (t: Transaction) => Transaction): Promise<unknown[]> {
    return this.call<unknown[]>(client, what, (cb) => build(client.transaction()).commit((err, results) => cb(err, results as unknown[])))
  }

  /** Reads many znodes, a window at a time (the client pipelines them on one connection). */
  private async readAll(client: Client, paths: string[]): Promise<Buffer[]> {
    const out: Buffer[] = new Array(paths.length)
    for (let k = 0; k < paths.length; k += READ_WINDOW) {
      const slice = paths.slice(k, k + READ_WINDOW)
      const got = await Promise.all(slice.map((p) => this.getData(client, p)))
      got.forEach((g, n) => (out[k + n] = g.data))
    }
    return out
  }

  private async ensureLayout(client: Client): Promise<void> {
    for (const p of [this.paths.log, this.paths.chunks]) {
      await this.call<string>(client, `create ${p}`, (cb) => client.mkdirp(p, cb))
    }
    try {
      await this.call<string>(client, `create ${this.paths.epoch}`, (cb) => client.create(this.paths.epoch, Buffer.from('0'), CreateMode.PERSISTENT, cb))
    } catch (e) {
      if (codeOf(e) !== Exception.NODE_EXISTS) throw e
    }
  }

  private parseEpoch(data: Buffer | undefined): number {
    const text = (data ?? Buffer.alloc(0)).toString('utf8').trim()
    const n = Number(text === '' ? '0' : text)
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${this.paths.epoch} does not hold a controller epoch: ${JSON.stringify(text.slice(0, 40))}`)
    return n
  }
}

/** The snapshot or the log changed while they were read. */
class Changed extends Error {}

function wrapKeepCode(err: InstanceType<typeof Exception>, what: string): ZooKeeperError {
  const e = wrap(err, what)
  return e instanceof ZooKeeperError ? e : new ZooKeeperError(e.message, err.getCode(), err.getName())
}

/** Ends a client's session and waits (a little) for the connection to close. */
function closeClient(client: Client): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000)
    timer.unref()
    const onState = (s: InstanceType<typeof State>): void => {
      if (s === State.DISCONNECTED) {
        clearTimeout(timer)
        client.removeListener('state', onState)
        resolve()
      }
    }
    if (client.getState() === State.DISCONNECTED) {
      client.close()
      resolve()
      return
    }
    client.on('state', onState)
    client.close()
  })
}
