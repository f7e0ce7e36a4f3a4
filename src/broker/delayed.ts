// Delayed operations (Kafka's purgatory): a request that waits for data or a deadline. One timer
// serves every waiting operation — the earliest deadline — instead of a timer per request.

export interface DelayedOperation {
  deadline: number
  /** called once, when the deadline passes or the operation is completed early */
  complete(): void
  completed?: boolean
}

export class DelayedQueue {
  private ops: DelayedOperation[] = []
  private timer: NodeJS.Timeout | null = null
  private timerAt = Infinity

  add(op: DelayedOperation): void {
    this.ops.push(op)
    if (op.deadline < this.timerAt) this.arm(op.deadline)
  }

  /** Completes an operation before its deadline; it is dropped from the queue lazily. */
  completeEarly(op: DelayedOperation): void {
    if (op.completed) return
    op.completed = true
    op.complete()
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(() => this.sweep(), Math.max(0, at - Date.now()))
    this.timer.unref()
  }

  private sweep(): void {
    this.timer = null
    this.timerAt = Infinity
    const now = Date.now()
    const keep: DelayedOperation[] = []
    let next = Infinity
    for (const op of this.ops) {
      if (op.completed) continue
      if (op.deadline <= now) {
        op.completed = true
        op.complete()
      } else {
        keep.push(op)
        if (op.deadline < next) next = op.deadline
      }
    }
    this.ops = keep
    if (next < Infinity) this.arm(next)
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer)
    for (const op of this.ops) if (!op.completed) { op.completed = true; op.complete() }
    this.ops = []
  }
}
