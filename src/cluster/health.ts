// Health probes for supervised processes. A TCP connect alone proves little: the kernel accepts
// connections into the listen backlog even while the process's event loop is stuck. The 'kafka'
// probe therefore sends an ApiVersions v0 request and waits for any answer with its correlation id.

import { connect } from 'node:net'

export type ProbeKind = 'tcp' | 'kafka'

const API_VERSIONS = 18
const CLIENT_ID = Buffer.from('fjord-supervisor')

function apiVersionsRequest(correlationId: number): Buffer {
  const body = Buffer.alloc(2 + 2 + 4 + 2 + CLIENT_ID.length)
  let o = 0
  o = body.writeInt16BE(API_VERSIONS, o)
  o = body.writeInt16BE(0, o)
  o = body.writeInt32BE(correlationId, o)
  o = body.writeInt16BE(CLIENT_ID.length, o)
  CLIENT_ID.copy(body, o)
  const size = Buffer.alloc(4)
  size.writeInt32BE(body.length)
  return Buffer.concat([size, body])
}

let nextCorrelation = 1

/** Resolves true when `host:port` answers the probe within `timeoutMs`, false otherwise. */
export function probe(kind: ProbeKind, host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false
    const socket = connect({ host, port })
    const finish = (ok: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    socket.once('error', () => finish(false))
    socket.once('close', () => finish(false))
    const correlationId = nextCorrelation++ & 0x7fffffff
    let got = Buffer.alloc(0)
    socket.once('connect', () => {
      if (kind === 'tcp') return finish(true)
      socket.write(apiVersionsRequest(correlationId))
    })
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk])
      if (got.length >= 8) finish(got.readInt32BE(4) === correlationId)
    })
  })
}
