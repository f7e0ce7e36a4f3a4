/**
 * Incremental (cooperative) rebalancing (issue 3's acceptance tests): confluent-kafka-python
 * members (librdkafka 2.0.2, each its own OS process) with
 * partition.assignment.strategy=cooperative-sticky. Two members split a 6-partition topic; when a
 * third joins, the first two give up only the partitions that move (on_revoke with a subset, no
 * full revocation), keep the others, and the third gets the moved ones. The broker only runs the
 * classic protocol: KIP-429's two rebalances (revoke, then assign) are the clients' doing, over
 * JoinGroup/SyncGroup with the owned partitions in the subscription.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerHandle } from '../helpers/broker.js';
import { requirePythonModule } from '../helpers/clients.js';
import { uniqueTopic } from '../helpers/util.js';
import { GroupLog, confluentMember, createTopic, endOffsets, kafkajsClient, until, type ProcessMember } from './clients/group-members.js';

const PARTITIONS = 6;
const ALL = Array.from({ length: PARTITIONS }, (_, p) => p);

function describeLog(log: GroupLog): string {
  return (
    `assignments now: ${JSON.stringify(log.snapshot())}\n` +
    `events: ${JSON.stringify(log.assignments.map((e) => `${e.member} ${e.kind} ${JSON.stringify(e.partitions)} -> ${JSON.stringify(e.assignment)}`))}\n` +
    `records: ${log.records.length}, distinct: ${log.distinct().size}, commits: ${log.commits.length}\n` +
    `last commits: ${JSON.stringify([...log.lastCommits()].sort((a, b) => a[0] - b[0]))}\n` +
    `problems: ${log.problems.slice(-20).join('\n  ')}`
  );
}

function split(log: GroupLog, members: string[]): boolean {
  const snap = log.snapshot();
  if (!members.every((m) => (snap[m]?.length ?? 0) > 0)) return false;
  return members.flatMap((m) => snap[m] ?? []).sort((a, b) => a - b).join() === ALL.join();
}

describe('cooperative-sticky members rebalance incrementally', { timeout: 120_000 }, () => {
  let broker: BrokerHandle;
  const running: ProcessMember[] = [];

  before(async () => {
    await requirePythonModule('confluent_kafka');
    broker = await startBroker({ settings: { 'group.initial.rebalance.delay.ms': '0', 'auto.create.topics.enable': 'false' } });
  });

  after(async () => {
    for (const m of running.splice(0)) await m.stop().catch(() => {});
    await broker?.stop();
  });

  it('a third member joins: the first two keep what they keep, the third gets some', { timeout: 100_000 }, async (t) => {
    await broker.explain(async () => {
      const topic = uniqueTopic('groups-coop');
      const group = `${topic}-g`;
      await createTopic(broker.bootstrap, topic, PARTITIONS);
      const log = new GroupLog();
      const start = (name: string) => {
        const m = confluentMember(log, { bootstrap: broker.bootstrap, group, topic, name, strategy: 'cooperative-sticky', sessionTimeoutMs: 6000, batch: 10 });
        running.push(m);
        return m;
      };

      // Records keep arriving throughout, so consumption is checked across the rebalance.
      const producer = kafkajsClient(broker.bootstrap, 'groups-coop-trickle').producer({ allowAutoTopicCreation: false });
      await producer.connect();
      let producing = true;
      let seq = 0;
      const trickle = (async () => {
        while (producing) {
          await producer.send({ topic, acks: -1, messages: ALL.map((p) => ({ partition: p, key: `k-${p}-${seq}`, value: String(seq) })) });
          seq++;
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      try {
        start('a');
        start('b');
        await until('a and b sharing the 6 partitions', () => split(log, ['a', 'b']), 60_000, () => describeLog(log));
        // Let the two-member group settle (b's arrival may take a rebalance or two).
        await new Promise((r) => setTimeout(r, 1500));
        assert.ok(split(log, ['a', 'b']));
        const before = log.snapshot();
        const mark = log.assignments.length;
        t.diagnostic(`two members: ${JSON.stringify(before)}`);

        const joinedAt = Date.now();
        start('c');
        const took = await until('a, b and c sharing the 6 partitions', () => split(log, ['a', 'b', 'c']), 60_000, () => describeLog(log));
        await new Promise((r) => setTimeout(r, 1500)); // any further (wrong) movement would show now
        const afterJoin = log.snapshot();
        const events = log.assignments.slice(mark);
        t.diagnostic(`c joined; three members after ${took} ms: ${JSON.stringify(afterJoin)}`);
        t.diagnostic(`callbacks since c started: ${events.map((e) => `${e.member} ${e.kind} ${JSON.stringify(e.partitions)}`).join('; ')}`);
        assert.ok(split(log, ['a', 'b', 'c']), `still split after the join: ${describeLog(log)}`);
        for (const m of ['a', 'b']) {
          const kept = afterJoin[m]!;
          assert.ok(kept.length > 0, `${m} keeps partitions`);
          assert.ok(kept.every((p) => before[m]!.includes(p)), `${m} only keeps partitions it had: ${JSON.stringify(before[m])} -> ${JSON.stringify(kept)}`);
          for (const e of events.filter((x) => x.member === m)) {
            // Incremental: a revoke names only partitions that move, an assign only new ones.
            if (e.kind === 'revoke') {
              assert.ok(e.partitions.every((p) => !kept.includes(p)), `${m} revoked a partition it kept: ${JSON.stringify(e)}`);
              assert.ok(e.partitions.length < before[m]!.length, `${m} revoked everything it had: ${JSON.stringify(e)}`);
              assert.deepEqual(e.assignment, kept, `${m} still consumes the kept partitions right after its revoke`);
            } else if (e.kind === 'assign') {
              assert.ok(e.partitions.every((p) => !before[m]!.includes(p)), `${m} was re-assigned a partition it had: ${JSON.stringify(e)}`);
            } else {
              assert.fail(`${m} lost its partitions: ${JSON.stringify(e)}`);
            }
          }
          const revoked = events.filter((x) => x.member === m && x.kind === 'revoke').flatMap((x) => x.partitions);
          assert.deepEqual([...revoked].sort((a, b) => a - b), before[m]!.filter((p) => !kept.includes(p)), `${m} revoked exactly what moved`);
        }
        const cAssigns = events.filter((e) => e.member === 'c' && e.kind === 'assign');
        assert.ok(cAssigns.length > 0 && afterJoin.c!.length > 0, 'c got partitions');
        assert.ok(events.every((e) => e.member !== 'c' || e.kind === 'assign'), 'c was only ever assigned partitions');
        // Kept partitions were consumed without a pause in ownership: their consumer never changed.
        for (const m of ['a', 'b']) {
          for (const p of afterJoin[m]!) {
            const others = log.records.filter((r) => r.p === p && r.member !== m && r.t > joinedAt);
            assert.deepEqual(others, [], `partition ${p}, kept by ${m}, consumed by another member`);
          }
        }
      } finally {
        producing = false;
        await trickle;
        await producer.disconnect();
      }
      const ends = await endOffsets(broker.bootstrap, topic);
      const total = ends.reduce((a, b) => a + b, 0);
      await until(
        'every record consumed and committed',
        () => log.distinct().size === total && ALL.every((p) => log.lastCommits().get(p) === ends[p]),
        60_000,
        () => {
          const seen = log.distinct();
          const missing: string[] = [];
          for (const p of ALL) for (let o = 0; o < ends[p]!; o++) if (!seen.has(`${p}:${o}`)) missing.push(`${p}:${o}`);
          const near = (p: number, o: number) => [
            ...log.records.filter((r) => r.p === p && Math.abs(r.o - o) < 4).map((r) => `${r.t} ${r.member} rec ${r.o}`),
            ...log.commits.filter((c) => c.p === p && Math.abs(c.o - o) < 4).map((c) => `${c.t} ${c.member} commit ${c.o}`),
            ...log.assignments.filter((e) => e.partitions.includes(p)).map((e) => `${e.t} ${e.member} ${e.kind}`),
          ].sort();
          const [mp, mo] = (missing[0] ?? '0:0').split(':').map(Number) as [number, number];
          return `end offsets ${JSON.stringify(ends)}; never consumed: ${missing.join(' ')}\n${near(mp, mo).join('\n')}\n${describeLog(log)}`;
        },
      );
      for (const o of log.takeovers()) {
        if (o.first === null) continue;
        assert.ok(o.first >= o.committed, `${o.member} started partition ${o.p} at ${o.first}, below the commit ${o.committed} acknowledged before it was assigned`);
      }
      t.diagnostic(`records ${total}, consumed twice: ${log.duplicates().size}`);
      for (const m of running.splice(0)) await m.stop();
      assert.deepEqual(log.problems.filter((p) => !/commit-failed/.test(p)), []);
    });
  });
});
