/**
 * Two-member groups of one client each (issue 3's acceptance tests, extending
 * src/coordinator/groups-interop.test.ts, which runs one member of each): kafka-python 2.0.2's
 * group consumer (two processes, range assignor, commits after each poll) and kcat's balanced
 * consumer (`kcat -G`, two processes, auto commit). Each pair splits a 4-partition topic, consumes
 * every record, and the committed offsets end at the end of the log.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startBroker, type BrokerHandle } from '../helpers/broker.js';
import { KCAT, requireKcat, requirePythonModule } from '../helpers/clients.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { uniqueTopic } from '../helpers/util.js';
import {
  GroupLog,
  ProcessMember,
  committedViaKafkaPython,
  createTopic,
  endOffsets,
  kafkaPythonMember,
  produceKeyed,
  until,
  type GroupMember,
} from './clients/group-members.js';

const PARTITIONS = 4;
const ALL = Array.from({ length: PARTITIONS }, (_, p) => p);

function split(log: GroupLog, members: string[]): boolean {
  const snap = log.snapshot();
  if (!members.every((m) => (snap[m]?.length ?? 0) > 0)) return false;
  return members.flatMap((m) => snap[m] ?? []).sort((a, b) => a - b).join() === ALL.join();
}

function describeLog(log: GroupLog): string {
  return (
    `assignments: ${JSON.stringify(log.snapshot())}\n` +
    `records: ${log.records.length}, distinct: ${log.distinct().size}, commits: ${log.commits.length}\n` +
    `problems: ${log.problems.slice(-20).join('\n  ')}`
  );
}

/**
 * `kcat -G group topic`: records as "p o key" lines on stdout; kcat reports each rebalance on
 * stderr ("% Group … rebalanced (memberid …): assigned: topic [0], topic [2]" / "revoked: …").
 */
function kcatMember(log: GroupLog, bootstrap: string, group: string, topic: string, name: string): ProcessMember {
  const child = spawn(
    KCAT,
    ['-b', bootstrap, '-G', group, topic, '-o', 'beginning', '-u', '-f', '{"ev":"rec","p":%p,"o":%o,"k":"%k"}\\n',
      '-X', 'session.timeout.ms=6000', '-X', 'heartbeat.interval.ms=500', '-X', 'auto.commit.interval.ms=200', '-X', 'client.id=' + name, '-X', 'broker.address.family=v4'],
    { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const m = new ProcessMember(name, child, log);
  let buf = '';
  child.stderr!.on('data', (b: Buffer) => {
    buf += b.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const r = /rebalanced.*?: (assigned|revoked): (.*)$/.exec(line);
      if (!r) continue;
      const parts = [...r[2]!.matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
      log.assigned(name, r[1] === 'assigned' ? 'assign' : 'revoke', parts, r[1] === 'assigned' ? parts : []);
    }
  });
  return m;
}

describe('two-member groups of kafka-python and of kcat -G', { timeout: 150_000 }, () => {
  let broker: BrokerHandle;
  const running: GroupMember[] = [];

  before(async () => {
    await requireKcat();
    await requirePythonModule('kafka');
    broker = await startBroker({ settings: { 'group.initial.rebalance.delay.ms': '0', 'auto.create.topics.enable': 'false' } });
  });

  after(async () => {
    for (const m of running.splice(0)) await m.stop().catch(() => {});
    await broker?.stop();
  });

  const cases: { client: string; start: (log: GroupLog, group: string, topic: string, name: string) => ProcessMember }[] = [
    { client: 'kafka-python', start: (log, group, topic, name) => kafkaPythonMember(log, { bootstrap: broker.bootstrap, group, topic, name, sessionTimeoutMs: 6000 }) },
    { client: 'kcat -G', start: (log, group, topic, name) => kcatMember(log, broker.bootstrap, group, topic, name) },
  ];

  for (const c of cases) {
    it(`${c.client}: two members split the partitions, consume every record and commit`, { timeout: 60_000 }, async (t) => {
      await broker.explain(async () => {
        const topic = uniqueTopic(`groups-${c.client.split(' ')[0]}`);
        const group = `${topic}-g`;
        await createTopic(broker.bootstrap, topic, PARTITIONS);
        const log = new GroupLog();
        const members = ['m1', 'm2'].map((n) => c.start(log, group, topic, n));
        running.push(...members);
        const took = await until('two members sharing the partitions', () => split(log, ['m1', 'm2']), 40_000, () => describeLog(log));
        t.diagnostic(`split after ${took} ms: ${JSON.stringify(log.snapshot())}`);
        const owner = new Map<number, string>();
        for (const [m, ps] of Object.entries(log.snapshot())) for (const p of ps) owner.set(p, m);
        await produceKeyed(broker.bootstrap, topic, PARTITIONS, 25, 'k');
        const ends = await endOffsets(broker.bootstrap, topic);
        await until('every record consumed', () => log.distinct().size === 25 * PARTITIONS, 30_000, () => describeLog(log));
        for (const r of log.records) assert.equal(r.member, owner.get(r.p), `record ${r.p}:${r.o} consumed by its partition's owner`);
        assert.equal(log.records.length, 25 * PARTITIONS, 'every record once');
        // kafka-python commits after each poll; kcat auto-commits (and commits on close).
        await until(
          'the committed offsets at the end of the log',
          async () => JSON.stringify(await committedViaKafkaPython(broker.bootstrap, group, topic, PARTITIONS)) === JSON.stringify(ends),
          20_000,
        );
        for (const m of members) {
          running.splice(running.indexOf(m), 1);
          if (c.client === 'kcat -G') m.child.kill('SIGTERM');
          await m.stop();
          assert.equal((await m.exited).signal === 'SIGKILL', false, `${m.name} stopped cleanly: ${m.stderr.slice(-500)}`);
        }
      });
    });
  }
});
