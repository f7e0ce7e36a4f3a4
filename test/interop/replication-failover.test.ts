/**
 * Replication: leader failover under an idempotent producer (issue 5, fault tests).
 *
 * A controller and 3 brokers in 3 zones; a topic of 6 partitions, replication factor 3,
 * min.insync.replicas=2. confluent-kafka-python (librdkafka 2.0.2, enable.idempotence, acks=all)
 * writes the values 0, 1, 2, ... at 2000 records/s for 15 s (test/interop/clients/
 * replication_producer.py prints each delivery report as it arrives). About 5 s in, the leader of
 * the partition with the most acknowledged records so far is SIGKILLed. Then:
 *  - every acknowledged record is in a full read (kcat) at exactly its acknowledged partition and
 *    offset, no value twice, each partition's values in the producer's order;
 *  - records were acknowledged after the kill, on the killed leader's partition too;
 *  - diagnostics: the longest pause between acknowledgements around the kill, and on that
 *    partition.
 * The killed broker is started again: it rejoins the ISR of every partition (kcat -L from every
 * broker), and with the producer stopped, each partition's segment bytes are the same on every
 * replica (up to the high watermark, which is also every replica's log end).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterHandle } from '../helpers/cluster.js';
import { requireKcat, requirePythonModule } from '../helpers/clients.js';
import { uniqueTopic } from '../helpers/util.js';
import {
  checkAcked,
  compareReplicaLogs,
  countBy,
  createTopic,
  describeComparison,
  describeView,
  highWatermarks,
  isRetriable,
  isrFull,
  largestGap,
  readTopic,
  sleep,
  startProducer,
  startReplicatedCluster,
  topicView,
  waitForViews,
  within,
} from './clients/replication-helpers.js';

const PARTITIONS = 6;
const RATE = 2000;
const DURATION_S = 15;
const KILL_AFTER_MS = 5000;

describe('replication: leader failover', { timeout: 900_000 }, () => {
  let h: ClusterHandle | undefined;

  before(async () => {
    await requirePythonModule('confluent_kafka');
    await requireKcat();
    h = await startReplicatedCluster();
  });

  after(async () => {
    await h?.stop();
  });

  it('SIGKILL of the busiest leader under an idempotent acks=all librdkafka producer: no acked record lost or duplicated, the broker rejoins with identical logs', { timeout: 840_000 }, async (t) => {
    const c = h!;
    await c.explain(async () => {
      const topic = uniqueTopic('failover');
      await createTopic(c.bootstrap, topic, PARTITIONS, 3, { 'min.insync.replicas': '2' });
      await waitForViews(c, topic, 'a full ISR', isrFull(PARTITIONS, 3));

      const run = startProducer(['--bootstrap', c.bootstrap, '--topic', topic, '--rate', String(RATE), '--duration', String(DURATION_S)]);
      let killAt = 0;
      let victim = -1;
      let victimPartition = -1;
      try {
        // ~5 s of producing (counted from the first acknowledgement: startup is slow on a loaded machine)
        const firstAckDeadline = Date.now() + 60_000;
        while (run.acks.length === 0) {
          if (Date.now() > firstAckDeadline) throw new Error(`no acknowledgement within 60 s; producer stderr:\n${run.client.stderr().slice(-3000)}`);
          await sleep(50);
        }
        await sleep(Math.max(0, run.acks[0]!.ms + KILL_AFTER_MS - Date.now()));
        const perPartition = countBy(run.acks, (a) => String(a.p));
        victimPartition = Number(Object.entries(perPartition).sort((a, b) => b[1] - a[1])[0]![0]);
        const view = await topicView(c.bootstrap, topic);
        assert.ok(view, 'metadata before the kill');
        victim = view.partitions.find((p) => p.partition === victimPartition)!.leader;
        assert.ok(victim > 0, `partition ${victimPartition} has a leader: ${describeView(view)}`);
        t.diagnostic(`acks per partition after ~${KILL_AFTER_MS} ms: ${JSON.stringify(perPartition)}; busiest p${victimPartition}, led by broker ${victim}; ${describeView(view)}`);
        killAt = Date.now();
        await c.kill(victim, 'SIGKILL');
        t.diagnostic(`broker ${victim} SIGKILLed at +${killAt - run.acks[0]!.ms} ms after the first ack, ${run.acks.length} acks so far`);
      } catch (e) {
        run.client.kill();
        throw e;
      }

      const exit = await within(run.client.done, 300_000, 'the producer');
      const summary = run.summary;
      t.diagnostic(`producer: ${JSON.stringify(summary)}; exit ${JSON.stringify(exit)}`);
      t.diagnostic(`producer error_cb: ${JSON.stringify(countBy(run.clientErrors, (e) => e.error))}${run.clientErrors.length ? `; first: ${run.clientErrors.slice(0, 5).map((e) => `${e.error}: ${e.text}`).join(' | ')}` : ''}`);
      assert.ok(summary, `the producer printed no summary (exit ${JSON.stringify(exit)}):\n${run.client.stderr().slice(-4000)}`);
      assert.equal(summary.fatal, null, 'fatal producer error');
      assert.deepEqual(run.failures.slice(0, 10), [], `${run.failures.length} records failed delivery: ${JSON.stringify(countBy(run.failures, (f) => f.error))}`);
      assert.equal(summary.unflushed, 0, 'records left unflushed');
      assert.equal(run.acks.length, run.produced, 'every produced record acknowledged');
      const unexpected = run.clientErrors.filter((e) => e.fatal || !isRetriable(e.error));
      assert.deepEqual(unexpected.map((e) => `${e.error}: ${e.text}`), [], 'non-retriable client errors');

      // Producing resumed after the kill, on the killed leader's partition as well.
      const afterKill = run.acks.filter((a) => a.ms > killAt);
      const victimAfter = afterKill.filter((a) => a.p === victimPartition);
      assert.ok(afterKill.length > 0, 'acknowledgements after the kill');
      assert.ok(victimAfter.length > 0, `acknowledgements on p${victimPartition} (the killed leader's) after the kill`);
      const around = largestGap(run.acks.filter((a) => a.ms >= killAt - 1000).map((a) => a.ms));
      const victimTimes = run.acks.filter((a) => a.p === victimPartition).map((a) => a.ms);
      const lastBefore = Math.max(...victimTimes.filter((ms) => ms <= killAt));
      const firstAfter = Math.min(...victimTimes.filter((ms) => ms > killAt));
      t.diagnostic(
        `stall: longest pause between consecutive acks from 1 s before the kill: ${around.gapMs} ms (starting ${around.fromMs - killAt} ms after the kill); ` +
          `p${victimPartition}: last ack ${killAt - lastBefore} ms before the kill, next ${firstAfter - killAt} ms after it; ` +
          `${afterKill.length} of ${run.acks.length} acks after the kill`,
      );

      // Every acknowledged record, once, where it was acknowledged, in order.
      const readStarted = Date.now();
      const read = await readTopic(c.bootstrap, topic);
      const check = checkAcked(run.acks, read);
      t.diagnostic(`full read: ${read.length} records in ${Date.now() - readStarted} ms (${run.acks.length} acked)`);
      assert.deepEqual(check.missing, [], `${check.missingCount} acknowledged records missing`);
      assert.deepEqual(check.moved, [], 'acknowledged records not at their acknowledged offset');
      assert.deepEqual(check.duplicates, [], `${check.duplicateCount} duplicated values`);
      assert.deepEqual(check.disorder, [], 'values out of the producer order within a partition');
      assert.equal(read.length, run.acks.length, 'the read holds exactly the acknowledged records');

      // The killed broker comes back and catches up.
      const restartAt = Date.now();
      await c.restart(victim);
      const readyMs = Date.now() - restartAt;
      const views = await waitForViews(c, topic, `broker ${victim} back in every ISR`, isrFull(PARTITIONS, 3), { timeoutMs: 60_000 });
      t.diagnostic(`broker ${victim} ready ${readyMs} ms after the restart began, in every ISR after ${Date.now() - restartAt} ms`);
      const view = [...views.values()][0]!;
      t.diagnostic(`after the rejoin: ${describeView(view)}`);

      const hws = await highWatermarks(c.bootstrap, topic);
      const cmp = await compareReplicaLogs(c, topic, view, hws, 30_000);
      for (const line of describeComparison(cmp).split('\n')) t.diagnostic(`segment files: ${line}`);
      for (const p of cmp) {
        for (const r of p.replicas) {
          assert.ok(r.sameAsLeader, `p${p.partition}: broker ${r.id}'s log differs from the leader's (broker ${p.leader}) at byte ${r.firstDifference}\n${describeComparison(cmp)}`);
          assert.equal(r.logEnd, p.hw, `p${p.partition}: broker ${r.id}'s log ends at ${r.logEnd}, the high watermark is ${p.hw}`);
        }
      }
      const total = [...hws.values()].reduce((a, b) => a + b, 0);
      assert.equal(total, read.length, 'high watermarks add up to the records read');
    });
  });
});
