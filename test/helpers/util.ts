import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';

/** A topic name that is unique per run (tests may share a broker). */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** A loopback port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Stable 32-bit seed from a string, so every client/codec combination has its own data. */
export function seedOf(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/**
 * Kafka error names found anywhere in a client error: KafkaJS (`type`, `errors[]`,
 * `originalError`), @platformatic/kafka (`apiId`, `errors[]`, `cause`), plain messages.
 */
export function errorTypes(e: unknown, depth = 0): string[] {
  if (!e || typeof e !== 'object' || depth > 6) return [];
  const o = e as Record<string, unknown>;
  const out: string[] = [];
  for (const k of ['type', 'apiId']) if (typeof o[k] === 'string') out.push(o[k] as string);
  if (Array.isArray(o.errors)) for (const x of o.errors) out.push(...errorTypes(x, depth + 1));
  for (const k of ['originalError', 'cause']) if (o[k]) out.push(...errorTypes(o[k], depth + 1));
  return [...new Set(out)];
}

export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  return `${e.name}: ${e.message} [types: ${errorTypes(e).join(', ') || 'none'}]`;
}

/** Runs fn and returns the thrown error (or fails when nothing is thrown). */
export async function expectReject(fn: () => Promise<unknown>, what: string): Promise<unknown> {
  try {
    const r = await fn();
    throw new Error(`${what}: expected an error, got success (${JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? String(v) : v))?.slice(0, 300)})`);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith(`${what}: expected an error`)) throw e;
    return e;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
