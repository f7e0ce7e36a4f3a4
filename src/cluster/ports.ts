// Port helpers for the local cluster: free ports chosen once by binding port 0, and a check that
// a caller's fixed ports are free before a cluster is created on them.

import { createServer, type Server } from 'node:net'

function listen(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

/**
 * `count` distinct free ports on `host`, none of them in `avoid`. The listening sockets are held
 * until all ports are known, so the ports differ from each other; another process may still take
 * one before the cluster binds it (the process then fails to start with EADDRINUSE in its log).
 */
export async function allocatePorts(host: string, count: number, avoid: Iterable<number> = []): Promise<number[]> {
  const skip = new Set(avoid)
  const held: Server[] = []
  const ports: number[] = []
  try {
    for (let attempts = 0; ports.length < count; attempts++) {
      if (attempts > count + 100) throw new Error(`could not find ${count} free ports on ${host}`)
      const server = await listen(host, 0)
      held.push(server)
      const addr = server.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      if (port > 0 && !skip.has(port)) ports.push(port)
    }
  } finally {
    await Promise.all(held.map(close))
  }
  return ports
}

/** Whether `port` can be bound on `host` right now. */
export async function isPortFree(host: string, port: number): Promise<boolean> {
  try {
    await close(await listen(host, port))
    return true
  } catch {
    return false
  }
}

/** Throws naming every port of `ports` that is taken on `host`. */
export async function assertPortsFree(host: string, ports: number[]): Promise<void> {
  const taken: number[] = []
  for (const p of ports) if (!(await isPortFree(host, p))) taken.push(p)
  if (taken.length > 0) throw new Error(`port${taken.length > 1 ? 's' : ''} ${taken.join(', ')} on ${host} already in use`)
}
