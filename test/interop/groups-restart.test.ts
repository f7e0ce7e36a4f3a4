/**
 * A consumer group across a broker crash (issue 3's acceptance tests): a confluent-kafka-python
 * member (its own process) and a KafkaJS member consume a 4-partition topic, committing after
 * each processed batch; the broker is SIGKILLed mid-stream and restarted on the same data
 * directory. Every commit the broker acknowledged survives, the members rejoin the (now Empty)
 * group and resume at the committed offsets: nothing below a committed offset is consumed again,
 * and everything after it, including records produced after the restart, is consumed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerHandle } from '../helpers/broker.js';
import { requirePythonModule } from '../helpers/clients.js';
import { uniqueTopic } from '../helpers/util.js';
import {
  GroupLog,
  KafkaJSMember,
  committedViaKafkaPython,
  confluentMember,
  createTopic,
  endOffsets,
  produceKeyed,
  until,
  type GroupMember,
} from './clients/group-members.js';

const PARTITIONS = 4;
const ALL = Array.from({ length: PARTITIONS }, (_, p) => p);

function describeLog(log: GroupLog): string {
  return (
    `assignments: ${JSON.stringify(log.snapshot())}\n` +
    `records: ${log.records.length}, distinct: ${log.distinct().size}, commits: ${log.commits.length}\n` +
    `last commits: ${JSON.stringify([...log.lastCommits()].sort((a, b) => a[0] - b[0]))}\n` +
    `problems: ${log.problems.slice(-20).join('\n  ')}`
  );
}

describe('a consumer group across a broker SIGKILL and restart', { timeout: 150_000 }, () => {
  let broker: BrokerHandle;
  const running: GroupMember[] = [];

  before(async () => {
    await requirePythonModule('confluent_kafka');
    await requirePythonModule('kafka');
    broker = await startBroker({ settings: { 'group.initial.rebalance.delay.ms': '0', 'auto.create.topics.enable': 'false' } });
  });

  after(async () => {
    for (const m of running.splice(0)) await m.stop().catch(() => {});
    await broker?.stop();
  });

  it('resumes at the committed offsets after the broker restarts on the same data dir', { timeout: 120_000 }, async (t) => {
    await broker.explain(async () => {
      const topic = uniqueTopic('groups-restart');
      const group = `${topic}-g`;
      await createTopic(broker.bootstrap, topic, PARTITIONS);
      // 150 records per partition in batches of 10, consumed slowly (a pause before each commit)
      // so that the crash comes mid-stream.
      await produceKeyed(broker.bootstrap, topic, PARTITIONS, 150, 'a', 15);
      const log = new GroupLog();
      const base = { bootstrap: broker.bootstrap, group, topic, sessionTimeoutMs: 6000 };
      running.push(confluentMember(log, { ...base, name: 'confluent', batch: 10, delayMs: 150 }));
      running.push(await KafkaJSMember.start(log, { ...base, name: 'kafkajs', batchDelayMs: 150, maxBytesPerPartition: 512 }));
      await until(
        'both members consuming and committing',
        () => ['confluent', 'kafkajs'].every((m) => log.commits.some((c) => c.member === m)) && log.distinct().size >= 150,
        60_000,
        () => describeLog(log),
      );
      const before = await endOffsets(broker.bootstrap, topic);
      assert.ok(log.distinct().size < before.reduce((a, b) => a + b, 0), 'the crash comes before everything is consumed');

      await broker.kill();
      const killedAt = Date.now();
      const acked = log.lastCommits({ before: killedAt });
      t.diagnostic(`broker SIGKILLed with acknowledged commits ${JSON.stringify([...acked].sort((a, b) => a[0] - b[0]))}, ${log.distinct().size} records consumed`);
      await new Promise((r) => setTimeout(r, 500));
      await broker.restart();
      const restartedAt = Date.now();
      t.diagnostic(`broker restarted on ${broker.bootstrap} after ${restartedAt - killedAt} ms`);

      // Every acknowledged commit survived the crash (the members may have committed more since).
      const stored = await committedViaKafkaPython(broker.bootstrap, group, topic, PARTITIONS);
      for (const [p, o] of acked) assert.ok((stored[p] ?? -1) >= o, `partition ${p}: committed ${stored[p]} after the restart, ${o} acknowledged before the crash`);

      await produceKeyed(broker.bootstrap, topic, PARTITIONS, 20, 'b', 2);
      const ends = await endOffsets(broker.bootstrap, topic);
      const total = ends.reduce((a, b) => a + b, 0);
      const resumed = await until(
        'every record consumed and committed',
        () => log.distinct().size === total && ALL.every((p) => log.lastCommits().get(p) === ends[p]),
        90_000,
        () => describeLog(log),
      );
      t.diagnostic(`everything consumed and committed ${resumed} ms after the post-restart produce; assignment ${JSON.stringify(log.snapshot())}`);
      assert.deepEqual(await committedViaKafkaPython(broker.bootstrap, group, topic, PARTITIONS), ends);

      // Nothing below an offset committed before the crash comes back after it.
      for (const p of ALL) {
        const later = log.records.filter((r) => r.p === p && r.t > killedAt);
        assert.ok(later.length > 0, `partition ${p} consumed after the restart`);
        const first = Math.min(...later.map((r) => r.o));
        assert.ok(first >= (acked.get(p) ?? 0), `partition ${p} resumed at ${first}, below its commit ${acked.get(p)} acknowledged before the crash`);
      }
      for (const o of log.takeovers()) {
        if (o.first === null) continue;
        assert.ok(o.first >= o.committed, `${o.member} started partition ${o.p} at ${o.first}, below the commit ${o.committed} acknowledged before it was assigned`);
      }
      const again = [...log.duplicates().values()].filter((rs) => rs[rs.length - 1]!.t > killedAt).length;
      t.diagnostic(`consumed again after the restart (the uncommitted tail at the crash): ${again} records`);
      for (const m of running.splice(0)) await m.stop();
    });
  });
});
