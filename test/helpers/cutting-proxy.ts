/**
 * A TCP proxy that cuts connections: it listens on 127.0.0.1:0, forwards bytes both ways to a
 * target (set later with setTarget(), so the broker can be started with the proxy's port as its
 * advertised listener), and on a seeded random schedule destroys every live connection, both the
 * client side and the broker side. A cut is either immediate or "mid-frame": the next chunk that
 * arrives in one direction (chosen at random) is forwarded only in part, then both sides are
 * destroyed, so that the broker sees half a request, or the broker has processed a request whose
 * response the client gets only half of (the case idempotence is for: the client must retry what
 * the broker already has). An idle connection armed for a mid-frame cut is cut after 50-200 ms.
 *
 * For the diagnostics only, the proxy follows the Kafka framing (int32 size prefix) of each
 * connection: requests forwarded whole to the broker whose response has not reached the client
 * yet are "in flight". For Produce requests up to v8 (non-flexible: what librdkafka 2.0 and
 * KafkaJS 2.2 send) it counts the records of their batches, so a cut can report how many records
 * were in flight when it happened.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface CutSchedule {
  /** Shortest and longest pause between two cuts. */
  minMs: number;
  maxMs: number;
  /** Seed of the schedule's random numbers (pauses, mid-frame choice, truncation points). */
  seed: number;
  /** Probability that a connection is cut mid-frame rather than at once (default 0.5); half of
   *  those cut a request, half a response. */
  midFrame?: number;
}

/** One connection killed by a cut. */
export interface KillEvent {
  at: number;
  how: 'now' | 'mid-request' | 'mid-response' | 'idle';
  /** Requests forwarded whole to the broker whose response had not fully reached the client. */
  inFlightRequests: number;
  /** Produce requests among them, and the records their batches carry. */
  inFlightProduce: number;
  inFlightRecords: number;
}

export interface ProxyStats {
  connections: number;
  /** Scheduled cuts (each kills every live connection). */
  cuts: number;
  connectionsCut: number;
  /** Connections cut with half a request sent to the broker / half a response to the client. */
  midRequestCuts: number;
  midResponseCuts: number;
  bytesUp: number;
  bytesDown: number;
  /** Records in the Produce requests forwarded whole to the broker (retries counted again). */
  produceRecordsForwarded: number;
  /** Connections killed while at least one Produce request was in flight on them. */
  cutsWithProduceInFlight: number;
  /** Sums over the killed connections of the Produce requests / records in flight, and the max. */
  produceInFlightAtCuts: number;
  recordsInFlightAtCuts: number;
  maxRecordsInFlightAtCut: number;
}

export interface CuttingProxy {
  host: string;
  port: number;
  /** "127.0.0.1:<port>" */
  address: string;
  /** Where new connections go. Connections accepted before it is set wait for it. */
  setTarget(host: string, port: number): void;
  startCutting(schedule: CutSchedule): void;
  /** Stops the schedule; connections are left alone from then on. */
  stopCutting(): void;
  /** Cuts every live connection now (immediately, not mid-frame). */
  cutNow(): void;
  stats(): ProxyStats;
  /** Every connection killed by a cut, in order. */
  kills(): KillEvent[];
  close(): Promise<void>;
}

/** mulberry32: small, seedable, good enough for schedules. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PRODUCE = 0;

interface Outstanding {
  apiKey: number;
  records: number;
}

/** Splits one direction of a connection into Kafka frames (size-prefixed). */
class FrameSplitter {
  private chunks: Buffer[] = [];
  private length = 0;
  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  push(data: Buffer): void {
    this.chunks.push(data);
    this.length += data.length;
    for (;;) {
      if (this.length < 4) return;
      let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
      this.chunks = [buf];
      const size = buf.readInt32BE(0);
      if (size < 0 || this.length < 4 + size) return;
      this.onFrame(buf.subarray(4, 4 + size));
      buf = buf.subarray(4 + size);
      this.chunks = buf.length > 0 ? [buf] : [];
      this.length = buf.length;
    }
  }
}

/** Records carried by a Produce request v3..v8 (null when it cannot be parsed). */
export function produceRecordCount(frame: Buffer): number | null {
  try {
    const version = frame.readInt16BE(2);
    if (version < 3 || version > 8) return null;
    let p = 8;
    const clientIdLen = frame.readInt16BE(p);
    p += 2 + Math.max(0, clientIdLen);
    const txnIdLen = frame.readInt16BE(p);
    p += 2 + Math.max(0, txnIdLen);
    p += 2 + 4; // acks, timeout
    let records = 0;
    const topics = frame.readInt32BE(p);
    p += 4;
    for (let t = 0; t < topics; t++) {
      p += 2 + frame.readInt16BE(p);
      const partitions = frame.readInt32BE(p);
      p += 4;
      for (let i = 0; i < partitions; i++) {
        p += 4; // partition index
        const size = frame.readInt32BE(p);
        p += 4;
        const end = p + Math.max(0, size);
        let b = p;
        // record batches: baseOffset int64, batchLength int32, ..., recordsCount int32 at 57
        while (b + 61 <= end) {
          const batchLength = frame.readInt32BE(b + 8);
          records += frame.readInt32BE(b + 57);
          b += 12 + batchLength;
        }
        p = end;
      }
    }
    return records;
  } catch {
    return null;
  }
}

interface Pair {
  client: Socket;
  server: Socket | null;
  outstanding: Outstanding[];
  /** Armed for a mid-frame cut: the next chunk that way is forwarded in part, then both die. */
  armed: 'up' | 'down' | null;
  dead: boolean;
  fallback?: NodeJS.Timeout;
}

export async function startCuttingProxy(): Promise<CuttingProxy> {
  let target: { host: string; port: number } | null = null;
  const waiting: Array<() => void> = [];
  const pairs = new Set<Pair>();
  const killEvents: KillEvent[] = [];
  const st: ProxyStats = {
    connections: 0,
    cuts: 0,
    connectionsCut: 0,
    midRequestCuts: 0,
    midResponseCuts: 0,
    bytesUp: 0,
    bytesDown: 0,
    produceRecordsForwarded: 0,
    cutsWithProduceInFlight: 0,
    produceInFlightAtCuts: 0,
    recordsInFlightAtCuts: 0,
    maxRecordsInFlightAtCut: 0,
  };
  let timer: NodeJS.Timeout | null = null;
  let rand = seededRandom(1);
  let midFrameP = 0.5;

  /** Accounts for a connection killed by a cut (not one its own ends closed). */
  function account(pair: Pair, how: KillEvent['how']): void {
    let inFlightRequests = 0;
    let inFlightProduce = 0;
    let inFlightRecords = 0;
    for (const o of pair.outstanding) {
      inFlightRequests++;
      if (o.apiKey === PRODUCE) {
        inFlightProduce++;
        inFlightRecords += o.records;
      }
    }
    killEvents.push({ at: Date.now(), how, inFlightRequests, inFlightProduce, inFlightRecords });
    st.connectionsCut++;
    if (how === 'mid-request') st.midRequestCuts++;
    if (how === 'mid-response') st.midResponseCuts++;
    if (inFlightProduce > 0) st.cutsWithProduceInFlight++;
    st.produceInFlightAtCuts += inFlightProduce;
    st.recordsInFlightAtCuts += inFlightRecords;
    st.maxRecordsInFlightAtCut = Math.max(st.maxRecordsInFlightAtCut, inFlightRecords);
  }

  function kill(pair: Pair, cut?: KillEvent['how']): void {
    if (pair.dead) return;
    if (cut) account(pair, cut);
    pair.dead = true;
    if (pair.fallback) clearTimeout(pair.fallback);
    pairs.delete(pair);
    pair.client.destroy();
    pair.server?.destroy();
  }

  /** Forwards data from `from` to `to`, or, when the pair is armed, a part of it and then cuts. */
  function forward(pair: Pair, dir: 'up' | 'down', data: Buffer, from: Socket, to: Socket, count: (b: Buffer) => void): void {
    if (pair.dead) return;
    if (pair.armed === dir) {
      // a strict prefix (possibly empty), then both sides go
      const keep = data.length > 1 ? Math.floor(rand() * (data.length - 1)) : 0;
      if (keep > 0) {
        const part = data.subarray(0, keep);
        count(part);
        to.write(part);
      }
      account(pair, dir === 'up' ? 'mid-request' : 'mid-response');
      pair.armed = null;
      pair.dead = true;
      pairs.delete(pair);
      if (pair.fallback) clearTimeout(pair.fallback);
      // let the partial write reach the kernel before the sockets are destroyed
      setImmediate(() => {
        pair.client.destroy();
        pair.server?.destroy();
      });
      return;
    }
    count(data);
    if (!to.write(data)) from.pause();
  }

  function wire(pair: Pair): void {
    const { client } = pair;
    const server = connect({ host: target!.host, port: target!.port });
    pair.server = server;
    server.setNoDelay(true);
    const up = new FrameSplitter((frame) => {
      const apiKey = frame.readInt16BE(0);
      const records = apiKey === PRODUCE ? produceRecordCount(frame) ?? 0 : 0;
      st.produceRecordsForwarded += records;
      // acks=0 produce has no response; the tests here use acks=all
      pair.outstanding.push({ apiKey, records });
    });
    const down = new FrameSplitter(() => {
      pair.outstanding.shift();
    });
    client.on('data', (d: Buffer) =>
      forward(pair, 'up', d, client, server, (b) => {
        st.bytesUp += b.length;
        up.push(b);
      }),
    );
    server.on('data', (d: Buffer) =>
      forward(pair, 'down', d, server, client, (b) => {
        st.bytesDown += b.length;
        down.push(b);
      }),
    );
    // back-pressure: the proxy must not buffer without bound
    client.on('drain', () => server.resume());
    server.on('drain', () => client.resume());
    const end = () => kill(pair);
    server.on('error', end);
    server.on('close', end);
  }

  const server: Server = createServer((client) => {
    st.connections++;
    client.setNoDelay(true);
    const pair: Pair = { client, server: null, outstanding: [], armed: null, dead: false };
    pairs.add(pair);
    client.on('error', () => kill(pair));
    client.on('close', () => kill(pair));
    if (target) wire(pair);
    else {
      client.pause();
      waiting.push(() => {
        if (pair.dead) return;
        wire(pair);
        client.resume();
      });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  function cut(allowMidFrame: boolean): void {
    st.cuts++;
    for (const p of [...pairs]) {
      if (allowMidFrame && p.server && rand() < midFrameP) {
        p.armed = rand() < 0.5 ? 'up' : 'down';
        // an idle connection: cut it anyway after a short while
        p.fallback = setTimeout(() => kill(p, 'idle'), 50 + Math.floor(rand() * 150));
      } else {
        kill(p, 'now');
      }
    }
  }

  function schedule(s: CutSchedule): void {
    const delay = s.minMs + Math.floor(rand() * Math.max(0, s.maxMs - s.minMs));
    timer = setTimeout(() => {
      cut(true);
      schedule(s);
    }, delay);
  }

  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    setTarget(host: string, p: number) {
      target = { host, port: p };
      for (const w of waiting.splice(0)) w();
    },
    startCutting(s: CutSchedule) {
      if (timer) clearTimeout(timer);
      rand = seededRandom(s.seed);
      midFrameP = s.midFrame ?? 0.5;
      schedule(s);
    },
    stopCutting() {
      if (timer) clearTimeout(timer);
      timer = null;
      // connections chosen for a mid-frame cut already: finish them, at once
      for (const p of [...pairs]) if (p.armed) kill(p, 'idle');
    },
    cutNow: () => cut(false),
    stats: () => ({ ...st }),
    kills: () => [...killEvents],
    async close() {
      if (timer) clearTimeout(timer);
      timer = null;
      for (const p of [...pairs]) kill(p);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
