// Deadlines of the group coordinator (session expiry, join and sync phases, offset expiry) on one
// timer armed at the earliest deadline, as src/broker/delayed.ts does for fetches. Deadlines are
// keyed: scheduling a key again replaces its deadline, so a heartbeat costs a map write and a
// heap push, never a setTimeout. Stale heap entries are skipped when they surface.

interface Entry {
  key: string
  deadline: number
  seq: number
}

export class DeadlineTimer {
  private readonly current = new Map<string, { seq: number; fn: () => void }>()
  private heap: Entry[] = []
  private timer: NodeJS.Timeout | null = null
  private timerAt = Infinity
  private seq = 0
  private closed = false

  constructor(private readonly now: () => number = Date.now) {}

  /** Runs fn at `deadline` (ms since the epoch) unless the key is scheduled again or cancelled. */
  schedule(key: string, deadline: number, fn: () => void): void {
    if (this.closed) return
    const seq = ++this.seq
    this.current.set(key, { seq, fn })
    this.push({ key, deadline, seq })
    if (deadline < this.timerAt) this.arm(deadline)
  }

  cancel(key: string): void {
    this.current.delete(key)
  }

  has(key: string): boolean {
    return this.current.has(key)
  }

  get size(): number {
    return this.current.size
  }

  close(): void {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.current.clear()
    this.heap = []
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - this.now()))
    this.timer.unref()
  }

  private fire(): void {
    this.timer = null
    this.timerAt = Infinity
    const now = this.now()
    while (this.heap.length > 0 && this.heap[0]!.deadline <= now) {
      const e = this.pop()
      const c = this.current.get(e.key)
      if (!c || c.seq !== e.seq) continue
      this.current.delete(e.key)
      c.fn()
      if (this.closed) return
    }
    // drop stale entries at the top so the timer is armed for a live deadline
    while (this.heap.length > 0 && this.current.get(this.heap[0]!.key)?.seq !== this.heap[0]!.seq) this.pop()
    if (this.heap.length > 0) this.arm(this.heap[0]!.deadline)
    // a heap full of stale entries (frequent heartbeats) is rebuilt from the live keys
    if (this.heap.length > 64 && this.heap.length > 4 * this.current.size) this.compact()
  }

  private compact(): void {
    const live = this.heap.filter((e) => this.current.get(e.key)?.seq === e.seq)
    this.heap = []
    for (const e of live) this.push(e)
  }

  private push(e: Entry): void {
    const h = this.heap
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (h[p]!.deadline <= e.deadline) break
      h[i] = h[p]!
      i = p
    }
    h[i] = e
    if (h.length > 1024 && h.length > 8 * this.current.size) this.compact()
  }

  private pop(): Entry {
    const h = this.heap
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      let i = 0
      const n = h.length
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && h[r]!.deadline < h[l]!.deadline ? r : l
        if (h[c]!.deadline >= last.deadline) break
        h[i] = h[c]!
        i = c
      }
      h[i] = last
    }
    return top
  }
}
