/**
 * Replication: rolling restart under load (issue 5, fault tests).
 *
 * A controller and 3 brokers in 3 zones; a topic of 6 partitions, replication factor 3,
 * min.insync.replicas=2. While two real clients run —
 *  - confluent-kafka-python (librdkafka 2.0.2), idempotent, acks=all, 500 records/s of the values
 *    0, 1, 2, ... (test/interop/clients/replication_producer.py),
 *  - a confluent-kafka-python consumer-group member subscribed to the topic, auto commit
 *    (test/interop/clients/replication_group_consumer.py) —
 * every broker in turn gets SIGTERM (controlled shutdown: its leaderships move first), exits,
 * is started again, and the next one waits until every partition's ISR is full again.
 * The first test checks the data:
 *  - each broker exited with code 0 on SIGTERM;
 *  - no record failed delivery, the producer reported nothing fatal;
 *  - every acknowledged record is in a full read (kcat) once, at its acknowledged offset, in the
 *    producer's order (idempotence: no duplicates);
 *  - the consumer saw every acknowledged record (at least once: records after its last commit
 *    may come again).
 * The second one checks what the clients went through: only retriable errors (librdkafka's
 * connection errors, NOT_LEADER..., COORDINATOR_NOT_AVAILABLE...; any other error is a failure)
 * and the consumer never lost its assignment.
 * Diagnostics: per broker, the shutdown, start and ISR-rejoin durations; the longest pause
 * between acknowledgements and between consumed records; the consumer's group events.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterHandle } from '../helpers/cluster.js';
import { requireKcat, requirePythonModule } from '../helpers/clients.js';
import { uniqueTopic } from '../helpers/util.js';
import {
  checkAcked,
  countBy,
  createTopic,
  describeView,
  isRetriable,
  isrFull,
  largestGap,
  readTopic,
  sleep,
  spawnPython,
  startProducer,
  startReplicatedCluster,
  topicView,
  waitForViews,
  within,
  type LiveClient,
  type ProducerRun,
} from './clients/replication-helpers.js';

const PARTITIONS = 6;
const RATE = 500;

interface ConsumerRun {
  records: { p: number; o: number; v: string; ms: number }[];
  errors: { error: string; fatal: boolean; source: string; text: string; ms: number }[];
  group: string[];
  summary: Record<string, unknown> | null;
  client: LiveClient;
}

function startConsumer(bootstrap: string, group: string, topic: string): ConsumerRun {
  const run: ConsumerRun = { records: [], errors: [], group: [], summary: null, client: undefined as unknown as LiveClient };
  run.client = spawnPython('replication_group_consumer.py', ['--bootstrap', bootstrap, '--group', group, '--topic', topic], (line) => {
    const kind = line[0];
    if (kind === 'R') {
      const [, p, o, v] = line.split(' ');
      run.records.push({ p: Number(p), o: Number(o), v: v!, ms: Date.now() });
    } else if (kind === 'E') {
      const parts = line.split(' ');
      run.errors.push({ error: parts[1]!, fatal: parts[3] === '1', source: parts[4]!, text: parts.slice(5).join(' '), ms: Date.now() });
    } else if (kind === 'G') {
      run.group.push(`${new Date().toISOString().slice(11, 23)} ${line.slice(2)}`);
    } else if (kind === 'S') {
      run.summary = JSON.parse(line.slice(2)) as Record<string, unknown>;
    }
  });
  return run;
}

async function waitUntil(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

interface Outcome {
  producer: ProducerRun;
  consumer: ConsumerRun;
  offsetsTopic: string;
}

describe('replication: rolling restart', { timeout: 900_000 }, () => {
  let h: ClusterHandle | undefined;
  let outcome: Outcome | undefined;

  before(async () => {
    await requirePythonModule('confluent_kafka');
    await requireKcat();
    h = await startReplicatedCluster();
  });

  after(async () => {
    await h?.stop();
  });

  it('SIGTERM, restart and rejoin of every broker in turn under an idempotent producer and a group consumer: nothing lost or duplicated, the consumer sees every record', { timeout: 780_000 }, async (t) => {
    const c = h!;
    await c.explain(async () => {
      const topic = uniqueTopic('rolling');
      await createTopic(c.bootstrap, topic, PARTITIONS, 3, { 'min.insync.replicas': '2' });
      await waitForViews(c, topic, 'a full ISR', isrFull(PARTITIONS, 3));

      const consumer = startConsumer(c.bootstrap, `rolling-${topic}`, topic);
      const producer = startProducer(['--bootstrap', c.bootstrap, '--topic', topic, '--rate', String(RATE), '--duration', '0']);
      try {
        await rollAndCheck(topic, consumer, producer);
      } finally {
        // no client outlives the test (both have normally exited by now)
        producer.client.kill();
        consumer.client.kill();
      }
    });

    /** The rolling restart with the clients running, then the checks of the data. */
    async function rollAndCheck(topic: string, consumer: ConsumerRun, producer: ProducerRun): Promise<void> {
      try {
        await waitUntil('the first acknowledgements and consumed records', () => producer.acks.length > 0 && consumer.records.length > 0, 90_000);
        await sleep(3_000);
        const offsets = await topicView(c.bootstrap, '__consumer_offsets');
        const offsetsTopic = describeView(offsets);
        t.diagnostic(`__consumer_offsets: ${offsetsTopic}`);
        outcome = { producer, consumer, offsetsTopic };
        const rollStarted = Date.now();
        for (const id of c.brokerIds) {
          const before = await topicView(c.bootstrap, topic);
          const led = before ? before.partitions.filter((p) => p.leader === id).map((p) => p.partition) : [];
          const t0 = Date.now();
          await c.kill(id, 'SIGTERM');
          const t1 = Date.now();
          const exit = c.broker(id).lastExit;
          assert.equal(exit?.code, 0, `broker ${id} exit on SIGTERM: ${JSON.stringify(exit)}\n${c.logTail(id, 30)}`);
          await c.restart(id);
          const t2 = Date.now();
          const views = await waitForViews(c, topic, `broker ${id} back in every ISR`, isrFull(PARTITIONS, 3), { timeoutMs: 60_000 });
          const t3 = Date.now();
          t.diagnostic(
            `broker ${id} (led p${led.join(',p') || ' none'}): shutdown ${t1 - t0} ms, start ${t2 - t1} ms, ISR full ${t3 - t2} ms later; ` +
              `acks so far ${producer.acks.length}, consumed ${consumer.records.length}; ${describeView([...views.values()][0]!)}`,
          );
          await sleep(2_000);
        }
        t.diagnostic(`rolling restart of ${c.brokerIds.length} brokers took ${Date.now() - rollStarted} ms`);
        await sleep(2_000);
      } finally {
        producer.client.stop();
      }
      const pexit = await within(producer.client.done, 240_000, 'the producer');
      const summary = producer.summary;
      t.diagnostic(`producer: ${JSON.stringify(summary)}; exit ${JSON.stringify(pexit)}`);
      t.diagnostic(`producer error_cb: ${JSON.stringify(countBy(producer.clientErrors, (e) => e.error))}`);

      // The consumer catches up with every acknowledged record, then leaves.
      const acked = new Set(producer.acks.map((a) => a.v));
      const seen = new Set<string>();
      let scanned = 0;
      try {
        await waitUntil('the consumer to see every acknowledged record', () => {
          for (; scanned < consumer.records.length; scanned++) seen.add(consumer.records[scanned]!.v);
          return [...acked].every((v) => seen.has(v));
        }, 120_000).catch(() => {}); // judged below
      } finally {
        consumer.client.stop();
      }
      const cexit = await within(consumer.client.done, 60_000, 'the consumer').catch((e: Error) => {
        consumer.client.kill();
        return { error: e.message };
      });
      const consumedCounts = countBy(consumer.records, (r) => r.v);
      const redelivered = Object.values(consumedCounts).filter((n) => n > 1).length;
      t.diagnostic(`consumer: ${consumer.records.length} records (${redelivered} values more than once), summary ${JSON.stringify(consumer.summary)}, exit ${JSON.stringify(cexit)}`);
      t.diagnostic(`consumer errors: ${JSON.stringify(countBy(consumer.errors, (e) => `${e.source}:${e.error}`))}`);
      t.diagnostic(`consumer group events: ${consumer.group.join('; ')}`);
      const ackGap = largestGap(producer.acks.map((a) => a.ms));
      const consumeGap = largestGap(consumer.records.map((r) => r.ms));
      t.diagnostic(`longest pause between acks: ${ackGap.gapMs} ms; between consumed records: ${consumeGap.gapMs} ms`);

      // Producer: everything acknowledged, nothing given up, nothing fatal.
      assert.ok(summary, `the producer printed no summary:\n${producer.client.stderr().slice(-4000)}`);
      assert.equal(summary.fatal, null, 'fatal producer error');
      assert.deepEqual(producer.failures.slice(0, 10), [], `${producer.failures.length} records failed delivery: ${JSON.stringify(countBy(producer.failures, (f) => f.error))}`);
      assert.equal(summary.unflushed, 0, 'records left unflushed');
      assert.equal(producer.acks.length, producer.produced, 'every produced record acknowledged');

      // The log: every acknowledged record once, where it was acknowledged, in order.
      const read = await readTopic(c.bootstrap, topic);
      const check = checkAcked(producer.acks, read);
      t.diagnostic(`full read: ${read.length} records, ${producer.acks.length} acked`);
      assert.deepEqual(check.missing, [], `${check.missingCount} acknowledged records missing`);
      assert.deepEqual(check.moved, [], 'acknowledged records not at their acknowledged offset');
      assert.deepEqual(check.duplicates, [], `${check.duplicateCount} duplicated values`);
      assert.deepEqual(check.disorder, [], 'values out of the producer order within a partition');
      assert.equal(read.length, producer.acks.length, 'the read holds exactly the acknowledged records');

      // The consumer saw every acknowledged record.
      const unseen = [...acked].filter((v) => !seen.has(v));
      assert.deepEqual(unseen.slice(0, 20), [], `${unseen.length} acknowledged records the consumer never saw`);
    }
  });

  it('the producer and the group consumer saw only retriable errors during the rolling restart', async (t) => {
    assert.ok(outcome, 'the rolling restart ran');
    const { producer, consumer } = outcome;
    await h!.explain(async () => {
      const badProducer = producer.clientErrors.filter((e) => e.fatal || !isRetriable(e.error));
      const badConsumer = consumer.errors.filter((e) => e.fatal || !isRetriable(e.error));
      for (const e of badConsumer.slice(0, 10)) t.diagnostic(`consumer ${e.source} ${e.error} at ${new Date(e.ms).toISOString().slice(11, 23)}: ${e.text}`);
      t.diagnostic(`consumer group events: ${consumer.group.join('; ')}; __consumer_offsets: ${outcome!.offsetsTopic}`);
      assert.deepEqual(badProducer.map((e) => `${e.error}: ${e.text}`), [], 'non-retriable producer errors');
      assert.deepEqual(badConsumer.map((e) => `${e.source} ${e.error}: ${e.text}`), [], 'non-retriable consumer errors');
      assert.ok(!consumer.group.some((g) => g.includes(' lost ')), `the consumer lost its partitions: ${consumer.group.join('; ')}`);
    });
  });
});
