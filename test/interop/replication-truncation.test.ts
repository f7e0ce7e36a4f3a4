/**
 * Replication: a returning replica truncates a divergent tail (issue 5, fault tests).
 *
 * A controller and 3 brokers; a topic of 1 partition, replication factor 3, min.insync.replicas=1;
 * replica.lag.time.max.ms=60000 (and the controller's broker.session.timeout.ms=30000) so that
 * followers paused for a few seconds stay in the ISR. KafkaJS writes:
 *  1. "base-NNN" records with acks=all, which every replica gets;
 *  2. once the followers have copied a "warm-up" record, both are SIGSTOPped and "div-NNN" records
 *     are written with acks=1, one request each: the leader acknowledges them alone (the first may
 *     still reach a follower, in the answer to the fetch that was waiting at the leader);
 *  3. the leader is SIGKILLed, the followers SIGCONTed: one of them is elected (cleanly: both are
 *     still in the ISR) and KafkaJS writes "post-NNN" records with acks=all to it, on the offsets
 *     where the old leader holds its "div" records.
 * The old leader's segment file holds every "div" record while it is down. Started again, it
 * rejoins the ISR, its log is byte for byte the new leader's, and the "div" records the new leader
 * never had are gone from its disk and from a full read (kcat), which holds base, the div records
 * the new leader had, and post, each once, in order.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Kafka } from 'kafkajs';
import type { ClusterHandle } from '../helpers/cluster.js';
import { requireKcat } from '../helpers/clients.js';
import { uniqueTopic } from '../helpers/util.js';
import {
  bootstrapOf,
  compareReplicaLogs,
  createTopic,
  describeComparison,
  describeView,
  highWatermarks,
  isrFull,
  kafkajsClient,
  logEnd,
  readTopic,
  replicaLogBytes,
  sleep,
  startReplicatedCluster,
  waitForViews,
} from './clients/replication-helpers.js';

const BASE = 100;
const DIVERGENT = 20;
const POST = 50;
const pad = (n: number) => String(n).padStart(3, '0');

async function produceEach(kafka: Kafka, topic: string, values: string[], acks: number): Promise<number[]> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 2_000 } });
  await producer.connect();
  try {
    const offsets: number[] = [];
    for (const value of values) {
      const [meta] = await producer.send({ topic, acks, messages: [{ partition: 0, value }] });
      offsets.push(Number(meta!.baseOffset));
    }
    return offsets;
  } finally {
    await producer.disconnect();
  }
}

describe('replication: divergent tail truncation', { timeout: 600_000 }, () => {
  let h: ClusterHandle | undefined;
  const stopped = new Set<number>();

  before(async () => {
    await requireKcat();
    h = await startReplicatedCluster({
      brokerSettings: { 'replica.lag.time.max.ms': '60000' },
      controllerSettings: { 'broker.session.timeout.ms': '30000' },
    });
  });

  after(async () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    await h?.stop();
  });

  it('a leader that took acks=1 records its followers never got drops them when it returns, and rejoins the ISR', { timeout: 540_000 }, async (t) => {
    const c = h!;
    await c.explain(async () => {
      const topic = uniqueTopic('truncation');
      await createTopic(c.bootstrap, topic, 1, 3, { 'min.insync.replicas': '1' });
      let views = await waitForViews(c, topic, 'a full ISR', isrFull(1, 3));
      const before = [...views.values()][0]!.partitions[0]!;
      const oldLeader = before.leader;
      const followers = before.replicas.filter((r) => r !== oldLeader);
      t.diagnostic(`before: ${describeView([...views.values()][0]!)}`);

      // 1. base records on every replica
      const baseValues = Array.from({ length: BASE }, (_, i) => `base-${pad(i)}`);
      const all = kafkajsClient(c.bootstrap, 'truncation-base');
      await produceEach(all, topic, baseValues, -1);
      const cmp0 = await compareReplicaLogs(c, topic, [...views.values()][0]!, await highWatermarks(c.bootstrap, topic), 30_000);
      assert.ok(cmp0.every((p) => p.hw === BASE && p.replicas.every((r) => r.sameAsLeader && r.logEnd === BASE)), `every replica holds the base records:\n${describeComparison(cmp0)}`);

      // 2. followers paused; acks=1 records to the leader alone (KafkaJS talks to the leader only)
      const toLeader = kafkajsClient(c.broker(oldLeader).address, 'truncation-acks1');
      const producer = toLeader.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
      await producer.connect();
      const divValues = Array.from({ length: DIVERGENT }, (_, i) => `div-${pad(i)}`);
      const divOffsets: number[] = [];
      const pausedAt = Date.now();
      try {
        await producer.send({ topic, acks: 1, messages: [{ partition: 0, value: 'warm-up' }] }); // metadata and connection in place
        // every replica has the warm-up record, so the followers wait in a fetch at the leader
        const warmDeadline = Date.now() + 30_000;
        while (!followers.every((id) => logEnd(replicaLogBytes(c, id, topic, 0)) === BASE + 1)) {
          if (Date.now() > warmDeadline) throw new Error(`the followers did not copy the warm-up record within 30 s`);
          await sleep(50);
        }
        await sleep(200);
        for (const id of followers) {
          const pid = c.broker(id).pid!;
          process.kill(pid, 'SIGSTOP');
          stopped.add(pid);
        }
        for (const value of divValues) {
          const [meta] = await producer.send({ topic, acks: 1, messages: [{ partition: 0, value }] });
          divOffsets.push(Number(meta!.baseOffset));
        }
      } finally {
        await producer.disconnect().catch(() => {});
      }
      assert.deepEqual(divOffsets, divValues.map((_, i) => BASE + 1 + i), 'the acks=1 records follow the base records and the warm-up');

      // 3. the leader dies, the followers resume; one of them takes over
      await c.kill(oldLeader, 'SIGKILL');
      for (const id of followers) {
        const pid = c.broker(id).pid!;
        process.kill(pid, 'SIGCONT');
        stopped.delete(pid);
      }
      t.diagnostic(`followers ${followers.join(', ')} paused for ${Date.now() - pausedAt} ms; broker ${oldLeader} (leader) SIGKILLed after acknowledging ${DIVERGENT} acks=1 records`);
      const oldLog = replicaLogBytes(c, oldLeader, topic, 0);
      assert.equal(logEnd(oldLog), BASE + 1 + DIVERGENT, `the old leader's segment holds the acks=1 records`);
      for (const v of divValues) assert.ok(oldLog.includes(Buffer.from(v)), `${v} is in the old leader's segment file`);

      const electedAt = Date.now();
      views = await waitForViews(c, topic, 'a new leader among the followers, both in the ISR', (v) => {
        const p = v.partitions[0]!;
        return followers.includes(p.leader) && p.isr.join(',') === [...followers].sort((a, b) => a - b).join(',');
      }, { ids: followers });
      const elected = [...views.values()][0]!.partitions[0]!;
      const newLeader = elected.leader;
      t.diagnostic(`broker ${newLeader} leads ${Date.now() - electedAt} ms after SIGCONT: ${describeView([...views.values()][0]!)}`);

      const survivors = bootstrapOf(c, followers);
      const readAfterElection = await readTopic(survivors, topic);
      const kept = new Set(readAfterElection.map((r) => r.v));
      const leaked = divValues.filter((v) => kept.has(v));
      const divergent = divValues.filter((v) => !kept.has(v));
      t.diagnostic(`${leaked.length} of the ${DIVERGENT} acks=1 records reached a follower before the pause (${leaked.join(', ') || 'none'}); ${divergent.length} exist only on the old leader`);
      assert.deepEqual(leaked, divValues.slice(0, leaked.length), 'what reached a follower is a prefix of the acks=1 records');
      assert.ok(divergent.length > 0, `the paused followers got every acks=1 record (${leaked.join(', ')}): nothing diverged`);
      const newEnd = (await highWatermarks(survivors, topic)).get(0)!;

      // post records with acks=all to the new leader, over the old leader's divergent offsets
      const postValues = Array.from({ length: POST }, (_, i) => `post-${pad(i)}`);
      const postOffsets = await produceEach(kafkajsClient(survivors, 'truncation-post'), topic, postValues, -1);
      assert.equal(postOffsets[0], newEnd, 'post records start at the new leader\'s log end');
      assert.ok(postOffsets[0]! < BASE + 1 + DIVERGENT, 'post records overwrite offsets the old leader holds divergent records at');

      // 4. the old leader returns
      const restartAt = Date.now();
      await c.restart(oldLeader);
      views = await waitForViews(c, topic, `broker ${oldLeader} back in the ISR`, isrFull(1, 3), { timeoutMs: 60_000 });
      const view = [...views.values()][0]!;
      t.diagnostic(`broker ${oldLeader} in the ISR again ${Date.now() - restartAt} ms after its restart began: ${describeView(view)}`);

      const hws = await highWatermarks(c.bootstrap, topic);
      const expectedEnd = newEnd + POST;
      assert.equal(hws.get(0), expectedEnd, 'high watermark');
      const cmp = await compareReplicaLogs(c, topic, view, hws, 30_000);
      t.diagnostic(`segment files: ${describeComparison(cmp)}`);
      for (const r of cmp[0]!.replicas) {
        assert.ok(r.sameAsLeader, `broker ${r.id}'s log differs from the leader's at byte ${r.firstDifference}: ${describeComparison(cmp)}`);
        assert.equal(r.logEnd, expectedEnd, `broker ${r.id}'s log end`);
      }
      const returned = replicaLogBytes(c, oldLeader, topic, 0);
      const survivingDivergent = divergent.filter((v) => returned.includes(Buffer.from(v)));
      assert.deepEqual(survivingDivergent, [], 'divergent records still in the old leader\'s segment file');
      const truncLines = c.logTail(oldLeader, 400).split('\n').filter((l) => /"msg":"[^"]*(truncat|diverg)/i.test(l));
      if (truncLines.length) t.diagnostic(`old leader's log: ${truncLines.slice(0, 3).join(' | ')}`);

      // A full read: base, warm-up, the leaked div records, post; each once, in this order.
      const read = await readTopic(c.bootstrap, topic);
      const expected = [...baseValues, 'warm-up', ...leaked, ...postValues];
      assert.deepEqual(read.map((r) => r.v), expected, 'full read after the rejoin');
      assert.deepEqual(read.map((r) => r.o), expected.map((_, i) => i), 'offsets');
    });
  });
});
