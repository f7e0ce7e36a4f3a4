/**
 * A simulated network for partition tests: TCP proxies between named nodes ('broker-1',
 * 'controller', 'client', ...) and a switch that splits the nodes into two sides.
 *
 * Each proxy listens on 127.0.0.1:0 in front of one destination node and forwards both ways to
 * its target (asked for each new connection, so the proxies can be started before the processes
 * they front). It knows which node each connection comes from: a fixed name (a proxy only one node
 * uses, such as broker 1's way to the controller), or a name derived from the client id of the
 * connection's first Kafka request (a broker's listener, used by clients and by the other brokers'
 * replica fetchers, `fjord-replica-<id>`).
 *
 * `partition(nodes)` puts `nodes` on one side and everything else on the other; a connection
 * whose source and destination are on different sides is blackholed: nothing is forwarded either
 * way and nothing is closed, like a network that drops packets (no RST, no FIN). Bytes, and the
 * end of a direction, that arrive meanwhile are held (the sockets stop reading, so TCP flow
 * control pushes back on the sender) and delivered in order after `heal()`, as TCP would
 * retransmit them once the path is back. A new connection across the cut is accepted by the
 * proxy (the kernel does that) but gets no answer and no connection to its target until the heal.
 * The proxies never close a connection on their own: a side sees the other end go away only when
 * that end really did (after the heal, if it did during the cut).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Endpoint {
  host: string;
  port: number;
}

export interface FaultProxyOptions {
  /** The node behind this proxy, e.g. 'broker-1' or 'controller'. */
  destination: string;
  /** Where a new connection goes; null while not known (the connection waits). */
  target: () => Endpoint | null;
  /**
   * The node connections come from: a fixed name, or a function of the client id of the first
   * Kafka request on the connection (null when the header has none).
   */
  source: string | ((clientId: string | null) => string);
}

export interface FaultProxy {
  destination: string;
  port: number;
  /** "127.0.0.1:<port>" */
  address: string;
  close(): Promise<void>;
}

/** Per source -> destination pair. */
export interface LinkStats {
  connections: number;
  open: number;
  /** Open connections held right now (blackholed). */
  heldNow: number;
  /** Connections that were held at some point. */
  everHeld: number;
  bytesUp: number;
  bytesDown: number;
  /** Bytes that arrived while the connection was held (delivered at the heal, if it still stands). */
  bytesHeldUp: number;
  bytesHeldDown: number;
  /** Upstream connections refused or failed (the target was down): the client side was ended. */
  refused: number;
}

export interface NetworkEvent {
  at: number;
  what: string;
}

type Item = Buffer | 'end';

const HEADER_PREFIX = 4 + 2 + 2 + 4 + 2; // size, api key, api version, correlation id, client id length

/** The client id of the first Kafka request in `buf`, undefined while incomplete. */
export function firstClientId(buf: Buffer): string | null | undefined {
  if (buf.length < HEADER_PREFIX) return undefined;
  const len = buf.readInt16BE(12);
  if (len < 0) return null;
  if (buf.length < HEADER_PREFIX + len) return undefined;
  return buf.subarray(HEADER_PREFIX, HEADER_PREFIX + len).toString('utf8');
}

class Link {
  src: string | null = null;
  upstream: Socket | null = null;
  connecting = false;
  upstreamReady = false;
  held = false;
  wasHeld = false;
  readonly up: Item[] = [];
  readonly down: Item[] = [];
  private head: Buffer = Buffer.alloc(0);
  clientEnded = false;
  upstreamEnded = false;
  /** 'end' delivered to that side. */
  endedToUpstream = false;
  endedToClient = false;
  closed = false;

  constructor(
    readonly net: FaultNetwork,
    readonly proxy: FaultProxyOptions,
    readonly client: Socket,
  ) {
    if (typeof proxy.source === 'string') {
      this.src = proxy.source;
      const s = this.stats!;
      s.connections++;
      s.open++;
    }
    client.setNoDelay(true);
    client.on('data', (d: Buffer) => this.fromClient(d));
    client.on('end', () => this.clientGone());
    client.on('close', () => this.clientGone());
    client.on('error', () => {});
  }

  get stats(): LinkStats | null {
    return this.src === null ? null : this.net.statsFor(this.src, this.proxy.destination);
  }

  private fromClient(d: Buffer): void {
    if (this.src === null) {
      this.head = Buffer.concat([this.head, d]);
      const id = firstClientId(this.head);
      if (id !== undefined) {
        const fn = this.proxy.source as (clientId: string | null) => string;
        this.src = fn(id);
        const s = this.stats!;
        s.connections++;
        s.open++;
      }
    }
    this.up.push(d);
    const s = this.stats;
    if (s) {
      if (this.held) s.bytesHeldUp += d.length;
    }
    this.pump();
  }

  private clientGone(): void {
    if (this.clientEnded) return;
    this.clientEnded = true;
    this.up.push('end');
    this.pump();
  }

  private fromUpstream(d: Buffer): void {
    this.down.push(d);
    const s = this.stats;
    if (s && this.held) s.bytesHeldDown += d.length;
    this.pump();
  }

  private upstreamGone(): void {
    if (this.upstreamEnded) return;
    this.upstreamEnded = true;
    this.down.push('end');
    this.pump();
  }

  /** Moves what can move, after any change (data, an end, the network). */
  pump(): void {
    if (this.closed || this.src === null) return;
    const s = this.stats!;
    if (this.net.blocked(this.src, this.proxy.destination)) {
      if (!this.held) {
        this.held = true;
        if (!this.wasHeld) s.everHeld++;
        this.wasHeld = true;
        s.heldNow++;
        this.client.pause();
        this.upstream?.pause();
      }
      return;
    }
    if (this.held) {
      this.held = false;
      s.heldNow--;
      this.client.resume();
      this.upstream?.resume();
    }
    if (!this.upstream) {
      if (this.up.length === 1 && this.up[0] === 'end') {
        // the client went away before anything was connected: nothing to tell anyone
        this.finish();
        return;
      }
      this.connectUpstream();
      return;
    }
    if (!this.upstreamReady) return;
    while (this.up.length > 0) {
      const item = this.up.shift()!;
      if (item === 'end') {
        if (!this.endedToUpstream) {
          this.endedToUpstream = true;
          this.upstream.end();
        }
      } else if (!this.endedToUpstream && !this.upstream.destroyed) {
        s.bytesUp += item.length;
        this.upstream.write(item);
      }
    }
    while (this.down.length > 0) {
      const item = this.down.shift()!;
      if (item === 'end') {
        if (!this.endedToClient) {
          this.endedToClient = true;
          this.client.end();
        }
      } else if (!this.endedToClient && !this.client.destroyed) {
        s.bytesDown += item.length;
        this.client.write(item);
      }
    }
    if (this.endedToClient && this.endedToUpstream) this.finish();
  }

  private connectUpstream(): void {
    if (this.connecting) return;
    const target = this.proxy.target();
    if (!target) {
      this.connecting = true;
      setTimeout(() => {
        this.connecting = false;
        this.pump();
      }, 100).unref();
      return;
    }
    this.connecting = true;
    const up = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    this.upstream = up;
    up.setNoDelay(true);
    if (this.held) up.pause();
    up.on('connect', () => {
      this.connecting = false;
      this.upstreamReady = true;
      this.pump();
    });
    up.on('data', (d: Buffer) => this.fromUpstream(d));
    up.on('end', () => this.upstreamGone());
    up.on('close', () => {
      if (!this.upstreamReady) {
        // refused or failed: the client learns that its peer is gone, as it would from the host
        this.connecting = false;
        this.upstreamReady = true;
        this.stats!.refused++;
        this.up.length = 0;
        this.endedToUpstream = true;
      }
      this.upstreamGone();
    });
    up.on('error', () => {});
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    const s = this.stats;
    if (s) {
      s.open--;
      if (this.held) s.heldNow--;
    }
    this.net.forget(this);
    // both directions ended (or nothing was ever connected): let the sockets go
    setTimeout(() => {
      this.client.destroy();
      this.upstream?.destroy();
    }, 1000).unref();
  }

  destroy(): void {
    this.closed = true;
    this.client.destroy();
    this.upstream?.destroy();
  }
}

export class FaultNetwork {
  private side: Set<string> | null = null;
  private readonly links = new Set<Link>();
  private readonly servers: Server[] = [];
  private readonly linkStats = new Map<string, LinkStats>();
  readonly events: NetworkEvent[] = [];

  /** Whether traffic from `src` to `dst` is blackholed now. */
  blocked(src: string, dst: string): boolean {
    if (!this.side) return false;
    return this.side.has(src) !== this.side.has(dst);
  }

  /** `nodes` on one side, everything else on the other (replaces an earlier partition). */
  partition(nodes: string[]): void {
    this.side = new Set(nodes);
    this.events.push({ at: Date.now(), what: `partition: [${nodes.join(', ')}] | everything else` });
    for (const l of [...this.links]) l.pump();
  }

  heal(): void {
    this.side = null;
    this.events.push({ at: Date.now(), what: 'heal' });
    for (const l of [...this.links]) l.pump();
  }

  get partitioned(): string[] | null {
    return this.side ? [...this.side] : null;
  }

  async addProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => {
      const link = new Link(this, opts, socket);
      this.links.add(link);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.servers.push(server);
    const port = (server.address() as { port: number }).port;
    return {
      destination: opts.destination,
      port,
      address: `127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  statsFor(src: string, dst: string): LinkStats {
    const key = `${src} -> ${dst}`;
    let s = this.linkStats.get(key);
    if (!s) {
      s = { connections: 0, open: 0, heldNow: 0, everHeld: 0, bytesUp: 0, bytesDown: 0, bytesHeldUp: 0, bytesHeldDown: 0, refused: 0 };
      this.linkStats.set(key, s);
    }
    return s;
  }

  /** Stats per "src -> dst". */
  stats(): Map<string, LinkStats> {
    return new Map([...this.linkStats].sort((a, b) => a[0].localeCompare(b[0])).map(([k, v]) => [k, { ...v }]));
  }

  /** One line per link: connections, held ones, bytes. */
  describe(filter: (key: string, s: LinkStats) => boolean = () => true): string[] {
    return [...this.stats()]
      .filter(([k, s]) => filter(k, s))
      .map(([k, s]) => `${k}: ${s.connections} conn (${s.open} open, ${s.heldNow} held now, ${s.everHeld} ever held${s.refused ? `, ${s.refused} refused` : ''}), ${s.bytesUp} B up / ${s.bytesDown} B down, held ${s.bytesHeldUp} B up / ${s.bytesHeldDown} B down`);
  }

  /** @internal */
  forget(link: Link): void {
    this.links.delete(link);
  }

  async close(): Promise<void> {
    for (const l of this.links) l.destroy();
    this.links.clear();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
