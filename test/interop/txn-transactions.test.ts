/**
 * Transactions with real clients (issue 4):
 *  1. confluent-kafka-python (librdkafka 2.0.2) consume-transform-produce with every third
 *     transaction aborted: a read_committed reader sees every input record exactly once.
 *  2. The same loop with KafkaJS 2.2.4 (producer.transaction(), sendOffsets).
 *  3. The broker SIGKILLed with transactions open (librdkafka and KafkaJS producers) and restarted:
 *     they are aborted by their timeout, the committed one stays committed, kcat with
 *     isolation.level=read_committed sees only committed records, DescribeTransactions and
 *     ListTransactions show the outcome, and a new producer with the same transactional id
 *     commits.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startBroker, type BrokerHandle } from '../helpers/broker.js';
import { PYTHON, requireKcat, requirePythonModule, runKcat, runPython } from '../helpers/clients.js';
import { kafkajs } from '../helpers/node-clients.js';
import { CLIENT_SCRIPTS_DIR } from '../helpers/paths.js';
import { uniqueTopic } from '../helpers/util.js';
import { TestClient } from '../../src/broker/handlers/test-client.js';
import { Apis } from '../../src/protocol/apis.js';

const SETTINGS = {
  'group.initial.rebalance.delay.ms': '0',
  'transaction.abort.timed.out.transaction.cleanup.interval.ms': '1000',
  'num.partitions': '2',
};

async function readCommittedKeys(bootstrap: string, topic: string): Promise<string[]> {
  const r = await runKcat(['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-X', 'isolation.level=read_committed', '-f', '%k\\n'], { timeoutMs: 60_000 });
  return r.stdout.toString().split('\n').filter((l) => l !== '');
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('transactions interop', { timeout: 600_000 }, () => {
  let broker: BrokerHandle | undefined;

  before(async () => {
    await requirePythonModule('confluent_kafka');
    await requireKcat();
    broker = await startBroker({ settings: SETTINGS });
  });

  after(async () => {
    await broker?.stop();
  });

  it('confluent-kafka-python: consume-transform-produce with aborts, read_committed sees each record once', { timeout: 240_000 }, async () => {
    const b = broker!;
    await b.explain(async () => {
      const src = uniqueTopic('txn-ck-in');
      const dst = uniqueTopic('txn-ck-out');
      const r = await runPython('txn_ctp.py', [b.bootstrap, src, dst, '300', '3'], { timeoutMs: 200_000 });
      const out = JSON.parse(r.stdout.toString().trim().split('\n').pop()!);
      assert.ok(out.aborted > 0 && out.committed > 0, JSON.stringify(out));
      assert.equal(out.seen, 300, JSON.stringify(out));
      assert.equal(out.unique, 300, JSON.stringify(out));
      assert.ok(out.uncommitted_read > 300, `aborted records are in the log, for read_uncommitted readers: ${JSON.stringify(out)}`);
      const keys = await readCommittedKeys(b.bootstrap, dst);
      assert.equal(keys.length, 300);
      assert.equal(new Set(keys).size, 300);
    });
  });

  it('KafkaJS: consume-transform-produce with aborts, read_committed sees each record once', { timeout: 240_000 }, async () => {
    const b = broker!;
    await b.explain(async () => {
      const src = uniqueTopic('txn-kjs-in');
      const dst = uniqueTopic('txn-kjs-out');
      const n = 240;
      const kafka = kafkajs(b.bootstrap, 'txn-kjs');
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: src, numPartitions: 3 }, { topic: dst, numPartitions: 3 }] });
      const plain = kafka.producer();
      await plain.connect();
      await plain.send({ topic: src, messages: Array.from({ length: n }, (_, i) => ({ key: String(i), value: `v${i}`, partition: i % 3 })) });
      await plain.disconnect();
      const producer = kafka.producer({ transactionalId: `kjs-${src}`, maxInFlightRequests: 1, idempotent: true, transactionTimeout: 30000 });
      await producer.connect();
      const group = `kjs-g-${src}`;
      const consumer = kafka.consumer({ groupId: group, readUncommitted: false });
      await consumer.connect();
      await consumer.subscribe({ topic: src, fromBeginning: true });
      let txns = 0;
      let aborted = 0;
      let last = Date.now();
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
          last = Date.now();
          if (batch.messages.length === 0) return;
          const msgs = batch.messages.slice(0, 20);
          txns++;
          const txn = await producer.transaction();
          await txn.send({ topic: dst, messages: msgs.map((m) => ({ key: m.key, value: m.value!.toString().toUpperCase(), partition: batch.partition })) });
          const next = (BigInt(msgs[msgs.length - 1]!.offset) + 1n).toString();
          await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic: src, partitions: [{ partition: batch.partition, offset: next }] }] });
          if (txns % 3 === 0) {
            await txn.abort();
            aborted++;
            consumer.seek({ topic: src, partition: batch.partition, offset: msgs[0]!.offset });
          } else {
            await txn.commit();
            for (const m of msgs) resolveOffset(m.offset);
            if (msgs.length < batch.messages.length) consumer.seek({ topic: src, partition: batch.partition, offset: next });
          }
          await heartbeat();
        },
      });
      await until('the loop to go idle', async () => (Date.now() - last > 5000 ? true : undefined), 200_000);
      await consumer.disconnect();
      await producer.disconnect();
      const offsets = await admin.fetchOffsets({ groupId: group, topics: [src] });
      await admin.disconnect();
      assert.ok(aborted > 0);
      assert.deepEqual(offsets[0]!.partitions.map((p) => Number(p.offset)).sort(), [80, 80, 80]);
      const keys = await readCommittedKeys(b.bootstrap, dst);
      assert.equal(keys.length, n);
      assert.equal(new Set(keys).size, n);
    });
  });

  it('broker SIGKILLed with open transactions: after the restart each ends committed or aborted', { timeout: 240_000 }, async () => {
    const b = broker!;
    await b.explain(async () => {
      const topic = uniqueTopic('txn-crash');
      // librdkafka: one committed transaction, one left open
      const child = spawn(PYTHON, ['-u', join(CLIENT_SCRIPTS_DIR, 'txn_crash.py'), b.bootstrap, topic], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      await until('the python producer to leave its transaction open', async () => (out.includes('OPEN') ? true : undefined), 60_000);
      // KafkaJS: one open transaction
      const kafka = kafkajs(b.bootstrap, 'txn-crash-kjs');
      const kp = kafka.producer({ transactionalId: 'crash-kjs', maxInFlightRequests: 1, idempotent: true, transactionTimeout: 8000 });
      await kp.connect();
      const txn = await kp.transaction();
      await txn.send({ topic, messages: Array.from({ length: 20 }, (_, i) => ({ key: `k-${i}`, value: 'open', partition: i % 2 })) });

      await b.kill();
      child.kill('SIGKILL');
      await kp.disconnect().catch(() => {});
      await b.restart();

      const c = await TestClient.connect(b.host, b.port);
      try {
        const states = await until('the open transactions to be aborted', async () => {
          const d = await c.request(Apis.DescribeTransactions, 0, { transactionalIds: ['crash-commit', 'crash-open', 'crash-kjs'] });
          const s = d.transactionStates.map((t) => `${t.transactionalId}:${t.errorCode}:${t.transactionState}`);
          return s.every((x) => x.endsWith(':CompleteCommit') || x.endsWith(':CompleteAbort')) ? s : undefined;
        }, 60_000);
        assert.deepEqual(states, ['crash-commit:0:CompleteCommit', 'crash-open:0:CompleteAbort', 'crash-kjs:0:CompleteAbort']);
        const listed = await c.request(Apis.ListTransactions, 1, { stateFilters: ['CompleteAbort'], producerIdFilters: [], durationFilter: -1 });
        assert.deepEqual(listed.transactionStates.map((t) => t.transactionalId).sort(), ['crash-kjs', 'crash-open']);
        const ongoing = await c.request(Apis.ListTransactions, 0, { stateFilters: ['Ongoing', 'PrepareCommit', 'PrepareAbort'], producerIdFilters: [] });
        assert.deepEqual(ongoing.transactionStates, []);
      } finally {
        await c.close();
      }
      let keys = await readCommittedKeys(b.bootstrap, topic);
      assert.deepEqual(keys.sort(), Array.from({ length: 30 }, (_, i) => `c-${i}`).sort());
      // the id of the aborted transaction is usable again
      const fin = await runPython('txn_finish.py', [b.bootstrap, topic], { timeoutMs: 90_000 });
      assert.match(fin.stdout.toString(), /DONE/);
      keys = await readCommittedKeys(b.bootstrap, topic);
      assert.equal(keys.length, 35);
      assert.ok(keys.every((k) => k.startsWith('c-') || k.startsWith('n-')), keys.join(','));
    });
  });
});
