// Waiting on the control plane: polls a cluster (and the operation changing it) until it is
// ACTIVE again, or gone after a delete, and shows the progress on stderr: each operation step as
// it completes, and the state with the elapsed time — one line rewritten in place on a terminal,
// plain lines (only when something changed) otherwise, so logs and CI output stay readable.

import type { Cluster, ClusterOperationInfo } from '@aws-sdk/client-kafka'
import { MskApiError, type Msk } from './msk-client.js'

/** The operation ended UPDATE_FAILED, the cluster went FAILED, or the wait timed out (exit 1). */
export class OperationFailed extends Error {
  override name = 'OperationFailed'
}

export interface WaitTarget {
  clusterArn: string
  /** The operation to follow; without it, the cluster's active operation (if any) is shown. */
  operationArn?: string | undefined
  until: 'active' | 'gone'
}

export interface WaitOptions {
  timeoutMs: number
  pollMs?: number
  /** Where progress goes (default process.stderr); null for none. */
  progress?: NodeJS.WriteStream | null
}

export interface WaitResult {
  /** The cluster as last described; null when it is gone. */
  cluster: Cluster | null
  operation: ClusterOperationInfo | null
  elapsedMs: number
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000)
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
}

/** Progress output: permanent lines and a status that a terminal shows in place. */
class Progress {
  private readonly tty: boolean
  private shown = ''
  private lastPlain = ''

  constructor(private readonly out: NodeJS.WriteStream | null) {
    this.tty = out?.isTTY === true
  }

  line(text: string): void {
    if (!this.out) return
    this.clear()
    this.out.write(text + '\n')
    if (this.tty && this.shown) this.out.write(this.shown)
  }

  /** `text` without the time: plain output repeats it only when it changes. */
  status(text: string, elapsedMs: number): void {
    if (!this.out) return
    if (this.tty) {
      const width = Math.max(20, (this.out.columns || 100) - 1)
      const full = `${text} · ${formatElapsed(elapsedMs)}`
      this.shown = full.length > width ? full.slice(0, width - 1) + '…' : full
      this.out.write(`\r\x1b[K${this.shown}`)
    } else if (text !== this.lastPlain) {
      this.lastPlain = text
      this.out.write(`[${formatElapsed(elapsedMs).padStart(6)}] ${text}\n`)
    }
  }

  clear(): void {
    if (this.out && this.tty && this.shown) this.out.write('\r\x1b[K')
  }

  end(): void {
    this.clear()
    this.shown = ''
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function stepsOf(op: ClusterOperationInfo | null): { name: string; status: string }[] {
  return (op?.OperationSteps ?? []).map((s) => ({ name: s.StepName ?? '?', status: s.StepInfo?.StepStatus ?? 'PENDING' }))
}

export async function waitForCluster(msk: Msk, target: WaitTarget, options: WaitOptions): Promise<WaitResult> {
  const started = Date.now()
  const pollMs = options.pollMs ?? 1000
  const progress = new Progress(options.progress === undefined ? process.stderr : options.progress)
  const printed = new Map<string, number>() // operation ARN → steps reported done
  let opArn = target.operationArn ?? null
  let op: ClusterOperationInfo | null = null
  let cluster: Cluster | null = null

  const reportSteps = (operation: ClusterOperationInfo | null) => {
    if (!operation?.OperationArn) return
    const steps = stepsOf(operation)
    let done = printed.get(operation.OperationArn) ?? 0
    while (done < steps.length && (steps[done]!.status === 'COMPLETE' || steps[done]!.status === 'FAILED')) {
      const s = steps[done]!
      progress.line(`  ${s.status === 'COMPLETE' ? 'done' : 'FAILED'}  ${s.name} (${formatElapsed(Date.now() - started)})`)
      done++
    }
    printed.set(operation.OperationArn, done)
  }

  try {
    for (;;) {
      cluster = await msk.describeClusterIfExists(target.clusterArn)
      if (cluster === null) {
        if (opArn) {
          // The delete's last steps, if the operation is still on record.
          try {
            op = await msk.describeOperation(opArn)
            reportSteps(op)
          } catch (err) {
            if (!(err instanceof MskApiError)) throw err
          }
        }
        if (target.until === 'gone') return { cluster: null, operation: op, elapsedMs: Date.now() - started }
        throw new MskApiError('NotFoundException', `cluster ${target.clusterArn} no longer exists`, 404)
      }
      if (!target.operationArn && cluster.ActiveOperationArn) opArn = cluster.ActiveOperationArn
      op = opArn ? await msk.describeOperation(opArn) : null
      reportSteps(op)

      const steps = stepsOf(op)
      const current = steps.find((s) => s.status !== 'COMPLETE')
      // Steps are recorded as they start, so there is no total to show: the current one is enough.
      const stepText = op && current ? ` · ${current.name}` : ''
      progress.status(`${cluster.ClusterName ?? ''} ${cluster.State ?? '?'}${op ? ` · ${op.OperationType ?? ''} ${op.OperationState ?? ''}` : ''}${stepText}`, Date.now() - started)

      if (op?.OperationState === 'UPDATE_FAILED') {
        const e = op.ErrorInfo
        throw new OperationFailed(`operation ${op.OperationType ?? opArn} failed${e ? `: ${e.ErrorCode ?? ''}${e.ErrorString ? `: ${e.ErrorString}` : ''}` : ''} (cluster ${cluster.State})`)
      }
      if (cluster.State === 'FAILED') {
        const info = cluster.StateInfo
        throw new OperationFailed(`cluster ${cluster.ClusterName} is FAILED${info ? `: ${info.Code ?? ''}${info.Message ? `: ${info.Message}` : ''}` : ''}`)
      }
      if (target.until === 'active') {
        const opDone = !target.operationArn || op?.OperationState === 'UPDATE_COMPLETE'
        const clusterDone = cluster.State === 'ACTIVE' || (target.operationArn !== undefined && opDone && cluster.ActiveOperationArn !== target.operationArn && cluster.State !== 'UPDATING' && cluster.State !== 'REBOOTING_BROKER')
        if (opDone && clusterDone) return { cluster, operation: op, elapsedMs: Date.now() - started }
      }
      if (Date.now() - started > options.timeoutMs) {
        throw new OperationFailed(`gave up waiting after ${formatElapsed(Date.now() - started)}: cluster ${cluster.ClusterName} is ${cluster.State}${op ? `, operation ${op.OperationType} ${op.OperationState}` : ''}`)
      }
      await sleep(pollMs)
    }
  } finally {
    progress.end()
  }
}
