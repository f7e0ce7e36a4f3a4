/**
 * Replication: min.insync.replicas with two of three brokers down (issue 5, fault tests).
 *
 * A controller and 3 brokers; a topic of 3 partitions, replication factor 3,
 * min.insync.replicas=2. Records written with acks=all while every broker runs; then two brokers
 * are SIGKILLed and the third leads every partition with an ISR of one:
 *  - acks=all writes fail with NOT_ENOUGH_REPLICAS: confluent-kafka-python (librdkafka 2.0.2,
 *    retries=0, so the broker's error reaches the delivery report) and KafkaJS (acks -1, no
 *    retries); nothing of them is in the log;
 *  - acks=1 writes to the surviving leader succeed;
 *  - kcat -C -e reads everything committed before, and the acks=1 records.
 * The two brokers start again; once they are back in the ISR, acks=all writes succeed again, and a
 * full read holds every acknowledged record once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterHandle } from '../helpers/cluster.js';
import { requireKcat, requirePythonModule, runPython } from '../helpers/clients.js';
import { describeError, errorTypes, uniqueTopic } from '../helpers/util.js';
import {
  bootstrapOf,
  compareReplicaLogs,
  createTopic,
  describeComparison,
  describeView,
  highWatermarks,
  isrFull,
  kafkajsClient,
  readTopic,
  startReplicatedCluster,
  topicView,
  waitForViews,
} from './clients/replication-helpers.js';

const PARTITIONS = 3;

interface Report {
  v: string;
  p: number;
  o: number;
  err: string | null;
  retriable: boolean;
  text?: string;
}

async function produceOnce(bootstrap: string, topic: string, prefix: string, count: number, acks: string, retries: number, messageTimeoutMs = 15_000) {
  const r = await runPython(
    'replication_produce_once.py',
    ['--bootstrap', bootstrap, '--topic', topic, '--prefix', prefix, '--count', String(count), '--acks', acks, '--retries', String(retries), '--message-timeout-ms', String(messageTimeoutMs), '--partitions', String(PARTITIONS)],
    { timeoutMs: 120_000 },
  );
  const lines = r.stdout.toString().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Report | { summary: Record<string, unknown> });
  const reports = lines.filter((l): l is Report => !('summary' in l));
  const summary = lines.find((l): l is { summary: Record<string, unknown> } => 'summary' in l)?.summary;
  if (!summary) throw new Error(`no summary from the producer:\n${r.stderr.slice(-3000)}`);
  return { reports, summary };
}

describe('replication: min.insync.replicas with two brokers down', { timeout: 600_000 }, () => {
  let h: ClusterHandle | undefined;

  before(async () => {
    await requirePythonModule('confluent_kafka');
    await requireKcat();
    h = await startReplicatedCluster();
  });

  after(async () => {
    await h?.stop();
  });

  it('acks=all fails with NOT_ENOUGH_REPLICAS, acks=1 and reads go on, acks=all works again once the brokers are back', { timeout: 540_000 }, async (t) => {
    const c = h!;
    await c.explain(async () => {
      const topic = uniqueTopic('min-isr');
      await createTopic(c.bootstrap, topic, PARTITIONS, 3, { 'min.insync.replicas': '2' });
      await waitForViews(c, topic, 'a full ISR', isrFull(PARTITIONS, 3));

      // Committed with everyone up.
      const first = await produceOnce(c.bootstrap, topic, 'before', 300, 'all', 10);
      assert.equal(first.summary.delivered, 300, `acks=all with every broker up: ${JSON.stringify(first.summary)}`);

      // Two of three brokers crash; the third leads everything, alone in the ISR.
      const [survivor, ...victims] = c.brokerIds;
      const killedAt = Date.now();
      await Promise.all(victims.map((id) => c.kill(id, 'SIGKILL')));
      const views = await waitForViews(c, topic, `broker ${survivor} leading every partition alone`, (v) => v.partitions.every((p) => p.leader === survivor && p.isr.join(',') === String(survivor)), { ids: [survivor!] });
      t.diagnostic(`brokers ${victims.join(', ')} SIGKILLed; after ${Date.now() - killedAt} ms: ${describeView(views.get(survivor!)!)}`);
      const alone = c.broker(survivor!).address;

      // acks=all: NOT_ENOUGH_REPLICAS (librdkafka, no retries)
      const refused = await produceOnce(alone, topic, 'refused', 30, 'all', 0);
      t.diagnostic(`confluent acks=all with one broker: ${JSON.stringify(refused.summary)}`);
      assert.equal(refused.summary.delivered, 0, 'no acks=all record acknowledged');
      assert.deepEqual(refused.summary.errors, { NOT_ENOUGH_REPLICAS: 30 }, 'every acks=all record fails with NOT_ENOUGH_REPLICAS');
      t.diagnostic(`first refusal: ${refused.reports[0]?.err}: ${refused.reports[0]?.text}`);

      // acks=all: NOT_ENOUGH_REPLICAS (KafkaJS, no retries)
      const kjs = kafkajsClient(alone, 'min-isr-kafkajs', 0);
      const producer = kjs.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
      await producer.connect();
      let kjsError: unknown = null;
      try {
        await producer.send({ topic, acks: -1, messages: [{ partition: 0, value: 'refused-kafkajs' }] });
      } catch (e) {
        kjsError = e;
      }
      assert.ok(kjsError, 'KafkaJS acks=-1 write refused');
      t.diagnostic(`KafkaJS acks=-1 with one broker: ${describeError(kjsError)}`);
      assert.ok(errorTypes(kjsError).includes('NOT_ENOUGH_REPLICAS'), `KafkaJS sees NOT_ENOUGH_REPLICAS: ${describeError(kjsError)}`);

      // acks=1 goes on
      const single = await produceOnce(alone, topic, 'acks1', 90, '1', 0);
      assert.equal(single.summary.delivered, 90, `acks=1 with one broker: ${JSON.stringify(single.summary)}`);
      const [meta] = await producer.send({ topic, acks: 1, messages: [{ partition: 1, value: 'acks1-kafkajs' }] });
      assert.equal(meta!.errorCode, 0);
      await producer.disconnect();

      // reads go on: everything committed before and the acks=1 records, nothing refused
      const during = await readTopic(alone, topic);
      const expectedDuring = [...first.reports, ...single.reports].map((r) => `${r.p}:${r.o}:${r.v}`).concat(`1:${Number(meta!.baseOffset)}:acks1-kafkajs`).sort();
      assert.deepEqual(during.map((r) => `${r.p}:${r.o}:${r.v}`).sort(), expectedDuring, 'read with two brokers down');

      // the brokers return
      const restartAt = Date.now();
      await Promise.all(victims.map((id) => c.restart(id)));
      await waitForViews(c, topic, 'the returned brokers in the ISR', isrFull(PARTITIONS, 3), { timeoutMs: 60_000 });
      t.diagnostic(`brokers ${victims.join(', ')} back in every ISR ${Date.now() - restartAt} ms after their restart began`);

      const again = await produceOnce(bootstrapOf(c), topic, 'after', 300, 'all', 10);
      assert.equal(again.summary.delivered, 300, `acks=all with every broker back: ${JSON.stringify(again.summary)}`);

      const read = await readTopic(c.bootstrap, topic);
      const expected = [...expectedDuring, ...again.reports.map((r) => `${r.p}:${r.o}:${r.v}`)].sort();
      assert.deepEqual(read.map((r) => `${r.p}:${r.o}:${r.v}`).sort(), expected, 'full read at the end');

      // The returned replicas copied what the survivor took alone: every replica's log is the leader's.
      const view = (await topicView(bootstrapOf(c), topic))!;
      const cmp = await compareReplicaLogs(c, topic, view, await highWatermarks(c.bootstrap, topic), 30_000);
      for (const line of describeComparison(cmp).split('\n')) t.diagnostic(`segment files: ${line}`);
      for (const p of cmp) for (const r of p.replicas) assert.ok(r.sameAsLeader && r.logEnd === p.hw, `p${p.partition} on broker ${r.id}: ${describeComparison(cmp)}`);
    });
  });
});
