/**
 * A really full disk: the broker's data directory sits on a small tmpfs mounted by the test
 * (so the test runs as root, like CI). Produce fills it until a partition answers
 * KAFKA_STORAGE_ERROR; the broker stays up, a real client (kcat) still reads every acknowledged
 * record; when the filesystem grows (remount), produce works again and nothing was lost.
 * The produce side uses our own test client so that each partition's error code is seen exactly
 * (real clients retry KAFKA_STORAGE_ERROR, a retriable error, until their timeout).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, type BrokerHandle } from '../helpers/broker.js';
import { requireKcat, runKcat } from '../helpers/clients.js';
import { TestClient } from '../../src/broker/handlers/test-client.js';
import { Apis } from '../../src/protocol/apis.js';
import { buildBatchSync } from '../../src/protocol/records.js';

const STORAGE_ERROR = 56;
const TOPIC = 'disk-full';

describe('disk full', { timeout: 180_000 }, () => {
  let mountPoint: string;
  let broker: BrokerHandle | undefined;
  let client: TestClient | undefined;
  const acked: string[] = [];

  before(async () => {
    await requireKcat();
    mountPoint = mkdtempSync(join(tmpdir(), 'fjord-small-disk-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mountPoint]);
    } catch (err) {
      throw new Error(`this test mounts a 3 MiB tmpfs and needs root (CI runs as root): ${(err as Error).message}`);
    }
    broker = await startBroker({ dataDir: join(mountPoint, 'data') });
    client = await TestClient.connect(broker.host, broker.port);
    const created = await client.request(Apis.CreateTopics, 4, { topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1 }], timeoutMs: 5000 });
    assert.equal(created.topics[0]!.errorCode, 0);
  });

  after(async () => {
    await client?.close();
    await broker?.stop();
    try { execFileSync('umount', [mountPoint]); } catch { /* not mounted */ }
    rmSync(mountPoint, { recursive: true, force: true });
  });

  async function produce(value: string): Promise<number> {
    const records = buildBatchSync({ records: [{ key: null, value: Buffer.from(value) }] });
    const res = await client!.request(Apis.Produce, 7, { acks: -1, timeoutMs: 5000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }] });
    const p = res.responses[0]!.partitionResponses[0]!;
    if (p.errorCode === 0) acked.push(value);
    return p.errorCode;
  }

  async function readBack(): Promise<string[]> {
    const r = await runKcat(['-C', '-b', broker!.bootstrap, '-t', TOPIC, '-o', 'beginning', '-e', '-q', '-D', '\x1e'], { timeoutMs: 60_000 });
    return r.stdout.toString().split('\x1e').filter((s) => s.length > 0);
  }

  it('answers KAFKA_STORAGE_ERROR when full, keeps serving reads, and recovers when space returns', async () => {
    const chunk = 'x'.repeat(64 * 1024);
    let code = 0;
    for (let i = 0; i < 200 && code === 0; i++) code = await produce(`${i}:${chunk}`);
    assert.equal(code, STORAGE_ERROR, 'the 3 MiB disk should fill within 200 x 64 KiB');
    assert.ok(acked.length > 0);
    // still full: still refused, still readable
    assert.equal(await produce(`while-full:${chunk}`), STORAGE_ERROR);
    assert.deepEqual(await readBack(), acked);

    execFileSync('mount', ['-o', 'remount,size=64m', mountPoint]);
    assert.equal(await produce('after-space-returned'), 0);
    assert.deepEqual(await readBack(), acked);
  });
});
