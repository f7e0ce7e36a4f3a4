/**
 * One consumer group, three different clients (issue 3's acceptance tests):
 * confluent-kafka-python (librdkafka 2.0.2, its own OS process), KafkaJS 2.2.4 and
 * @platformatic/kafka 1.35, all with the classic protocol and the round-robin assignor under its
 * common name 'roundrobin' (KafkaJS's assigner is registered under that name, see
 * clients/group-members.ts), on a 6-partition topic.
 *
 *  1. Every partition is owned by exactly one member, every record is consumed exactly once,
 *     and the committed offsets (read by kafka-python, not a member) are the end offsets.
 *  2. The confluent member is SIGKILLed while records keep arriving: the two others take over
 *     its partitions once its session (6 s) expires, at its last acknowledged commit; a record
 *     is consumed twice only in the killed member's uncommitted tail.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type BrokerHandle } from '../helpers/broker.js';
import { requirePythonModule } from '../helpers/clients.js';
import { uniqueTopic } from '../helpers/util.js';
import {
  GroupLog,
  KafkaJSMember,
  PlatformaticMember,
  committedViaKafkaPython,
  confluentMember,
  createTopic,
  endOffsets,
  kafkajsClient,
  produceKeyed,
  until,
  type GroupMember,
  type ProcessMember,
} from './clients/group-members.js';

const PARTITIONS = 6;
const ALL = Array.from({ length: PARTITIONS }, (_, p) => p);

/** Each partition in exactly one member's assignment, and every member owns some. */
function splitExactly(log: GroupLog, members: string[]): boolean {
  const snap = log.snapshot();
  if (!members.every((m) => (snap[m]?.length ?? 0) > 0)) return false;
  const owned = members.flatMap((m) => snap[m] ?? []).sort((a, b) => a - b);
  return owned.join() === ALL.join();
}

function describeLog(log: GroupLog): string {
  return (
    `assignments: ${JSON.stringify(log.snapshot())}\n` +
    `records: ${log.records.length}, distinct: ${log.distinct().size}, commits: ${log.commits.length}\n` +
    `last commits: ${JSON.stringify([...log.lastCommits()].sort((a, b) => a[0] - b[0]))}\n` +
    `problems: ${log.problems.slice(-20).join('\n  ')}`
  );
}

describe('a consumer group of confluent-kafka-python, KafkaJS and @platformatic/kafka', { timeout: 180_000 }, () => {
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

  /** pyDelayMs: the confluent member's "processing" time between a batch and its commit. */
  async function startThree(log: GroupLog, group: string, topic: string, pyDelayMs = 0): Promise<{ py: ProcessMember; members: GroupMember[] }> {
    const base = { bootstrap: broker.bootstrap, group, topic, sessionTimeoutMs: 6000 };
    const py = confluentMember(log, { ...base, name: 'confluent', batch: 10, delayMs: pyDelayMs });
    running.push(py);
    const js = await KafkaJSMember.start(log, { ...base, name: 'kafkajs' });
    running.push(js);
    const plt = await PlatformaticMember.start(log, { ...base, name: 'platformatic' });
    running.push(plt);
    return { py, members: [py, js, plt] };
  }

  async function stopAll(members: GroupMember[]): Promise<void> {
    for (const m of members) {
      const i = running.indexOf(m);
      if (i >= 0) running.splice(i, 1);
    }
    await Promise.all(members.map((m) => m.stop()));
  }

  it('splits 6 partitions between three clients, consumes every record exactly once and commits', { timeout: 90_000 }, async (t) => {
    await broker.explain(async () => {
      const topic = uniqueTopic('groups-mixed');
      const group = `${topic}-g`;
      await createTopic(broker.bootstrap, topic, PARTITIONS);
      const log = new GroupLog();
      const { members } = await startThree(log, group, topic);
      const names = members.map((m) => m.name);
      const settle = await until('three members sharing the 6 partitions', () => splitExactly(log, names), 60_000, () => describeLog(log));
      t.diagnostic(`group settled ${settle} ms after the last member started: ${JSON.stringify(log.snapshot())}`);

      // The group description agrees with what the members were told.
      const admin = kafkajsClient(broker.bootstrap, 'groups-describe').admin();
      await admin.connect();
      const { groups } = await admin.describeGroups([group]);
      await admin.disconnect();
      assert.equal(groups[0]!.state, 'Stable');
      assert.equal(groups[0]!.protocol, 'roundrobin');
      assert.equal(groups[0]!.members.length, 3);

      const assignment = log.snapshot();
      const owner = new Map<number, string>();
      for (const [m, ps] of Object.entries(assignment)) for (const p of ps) owner.set(p, m);
      const recordsBefore = log.records.length;
      await produceKeyed(broker.bootstrap, topic, PARTITIONS, 50, 'a');
      const ends = await endOffsets(broker.bootstrap, topic);
      const total = ends.reduce((a, b) => a + b, 0);
      assert.equal(total, 50 * PARTITIONS);
      await until(
        'every record consumed and committed',
        () => log.distinct().size === total && ALL.every((p) => log.lastCommits().get(p) === ends[p]),
        60_000,
        () => describeLog(log),
      );
      await new Promise((r) => setTimeout(r, 500)); // a duplicate would show up now
      assert.equal(recordsBefore, 0, 'nothing was produced before the group settled');
      assert.deepEqual(log.snapshot(), assignment, 'no rebalance while consuming');
      assert.equal(log.records.length, total, `every record exactly once (${log.duplicates().size} consumed twice)`);
      for (const r of log.records) {
        assert.equal(r.member, owner.get(r.p), `record ${r.p}:${r.o} consumed by its partition's owner`);
        assert.equal(r.key, `a-${r.p}-${r.o}`);
      }
      const perMember = new Map<string, number>();
      for (const r of log.records) perMember.set(r.member, (perMember.get(r.member) ?? 0) + 1);
      t.diagnostic(`records per member: ${JSON.stringify(Object.fromEntries(perMember))}`);
      assert.deepEqual(await committedViaKafkaPython(broker.bootstrap, group, topic, PARTITIONS), ends, 'OffsetFetch by kafka-python');
      assert.deepEqual(log.problems, []);

      await stopAll(members);
      const admin2 = kafkajsClient(broker.bootstrap, 'groups-describe').admin();
      await admin2.connect();
      const after = await admin2.describeGroups([group]);
      await admin2.disconnect();
      assert.equal(after.groups[0]!.state, 'Empty', 'every member left');
      assert.deepEqual(await committedViaKafkaPython(broker.bootstrap, group, topic, PARTITIONS), ends, 'offsets stay after the members left');
    });
  });

  it('a SIGKILLed member: the others take over its partitions at its last commit', { timeout: 120_000 }, async (t) => {
    await broker.explain(async () => {
      const topic = uniqueTopic('groups-kill');
      const group = `${topic}-g`;
      await createTopic(broker.bootstrap, topic, PARTITIONS);
      const log = new GroupLog();
      // The SIGKILL most likely lands between a processed batch and its commit.
      const { py, members } = await startThree(log, group, topic, 250);
      const names = members.map((m) => m.name);
      const survivors = names.filter((n) => n !== py.name);
      await until('three members sharing the 6 partitions', () => splitExactly(log, names), 60_000, () => describeLog(log));

      // A steady trickle of records into every partition, through the kill and the take-over.
      const producer = kafkajsClient(broker.bootstrap, 'groups-trickle').producer({ allowAutoTopicCreation: false });
      await producer.connect();
      let producing = true;
      let seq = 0;
      const trickle = (async () => {
        while (producing) {
          await producer.send({ topic, acks: -1, messages: ALL.map((p) => ({ partition: p, key: `k-${p}-${seq}`, value: String(seq) })) });
          seq++;
          await new Promise((r) => setTimeout(r, 40));
        }
      })();
      try {
        const killedParts = log.snapshot()[py.name]!;
        await until(
          'the confluent member committing on each of its partitions',
          () => killedParts.every((p) => (log.lastCommits({ member: py.name }).get(p) ?? 0) >= 20),
          30_000,
          () => describeLog(log),
        );
        await py.kill();
        const killedAt = Date.now();
        log.gone(py.name);
        const lastPyCommit = log.lastCommits({ member: py.name });
        t.diagnostic(`SIGKILLed the confluent member (pid ${py.pid}) owning ${JSON.stringify(killedParts)}; its last commits ${JSON.stringify([...lastPyCommit])}`);

        const takeover = await until('the survivors owning all 6 partitions', () => splitExactly(log, survivors), 40_000, () => describeLog(log));
        const consumedAgain = await until(
          "the survivors consuming each of the killed member's partitions",
          () => killedParts.every((p) => log.records.some((r) => r.p === p && r.t > killedAt && survivors.includes(r.member))),
          30_000,
          () => describeLog(log),
        );
        t.diagnostic(
          `take-over: survivors assigned ${takeover} ms after the SIGKILL (session.timeout.ms=6000), ` +
            `consuming its partitions ${takeover + consumedAgain} ms after; assignment ${JSON.stringify(log.snapshot())}`,
        );
        await new Promise((r) => setTimeout(r, 1000));
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
        () => describeLog(log),
      );
      assert.deepEqual(await committedViaKafkaPython(broker.bootstrap, group, topic, PARTITIONS), ends, 'OffsetFetch by kafka-python');

      // Every time a member was handed a partition, it started at the offset committed (and
      // acknowledged) before the hand-over: the broker stored and served each commit.
      const takeovers = log.takeovers();
      for (const o of takeovers) {
        if (o.first === null) continue;
        assert.ok(o.first >= o.committed, `${o.member} started partition ${o.p} at ${o.first}, below the commit ${o.committed} acknowledged before it was assigned`);
      }
      const lastPyCommit = log.lastCommits({ member: py.name });
      const killedParts = [...lastPyCommit.keys()].sort((a, b) => a - b);
      assert.equal(killedParts.length, 2, 'the killed member had committed on both of its partitions');
      // The survivors resume each of the killed member's partitions at its last commit (or later,
      // when a commit was acknowledged but the SIGKILL came before the member printed it).
      const resumedAt: number[] = [];
      for (const p of killedParts) {
        const lastPy = Math.max(...log.records.filter((r) => r.member === py.name && r.p === p).map((r) => r.t));
        const after = log.records.filter((r) => r.p === p && r.member !== py.name && r.t >= lastPy);
        assert.ok(after.length > 0, `partition ${p} consumed after the kill`);
        const first = Math.min(...after.map((r) => r.o));
        resumedAt.push(first);
        assert.ok(first >= lastPyCommit.get(p)!, `partition ${p} resumed at ${first}, below the killed member's last commit ${lastPyCommit.get(p)}`);
      }
      t.diagnostic(`the killed member's partitions ${JSON.stringify(killedParts)} resumed at ${JSON.stringify(resumedAt)}; its last commits ${JSON.stringify(killedParts.map((p) => lastPyCommit.get(p)))}`);
      // Records consumed twice: on the killed member's partitions, only its uncommitted tail.
      // On the survivors' partitions the broker has no say: @platformatic/kafka keeps handing out
      // records of a fetch in flight after its partitions moved, and after a rejoin it restarts
      // from the committed offsets it read at the join even when it had consumed and committed
      // further meanwhile. Those are reported, not failed.
      const dups = log.duplicates();
      const tail = new Map<number, number[]>();
      const elsewhere: string[] = [];
      for (const [k, recs] of dups) {
        const [p, o] = k.split(':').map(Number) as [number, number];
        if (!lastPyCommit.has(p)) {
          elsewhere.push(`${k} by ${recs.map((r) => r.member).join('+')}`);
          continue;
        }
        tail.set(p, [...(tail.get(p) ?? []), o]);
        assert.ok(o >= lastPyCommit.get(p)!, `record ${k} consumed twice below the killed member's last commit ${lastPyCommit.get(p)}: ${JSON.stringify(recs)}`);
      }
      t.diagnostic(
        `records ${total}; consumed twice in the killed member's uncommitted tail: ` +
          JSON.stringify([...tail].map(([p, os]) => `${p}:${Math.min(...os)}..${Math.max(...os)} (${os.length})`)) +
          `; elsewhere (client-side redelivery while partitions moved): ${elsewhere.length ? elsewhere.join(', ') : 'none'}`,
      );
      await stopAll(members.filter((m) => m !== py));
      assert.deepEqual(log.problems.filter((p) => !/commit-failed/.test(p)), []);
    });
  });
});
