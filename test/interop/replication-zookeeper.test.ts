/**
 * Replication in ZooKeeper mode: the active controller and then a partition leader crash under an
 * idempotent acks=all producer.
 *
 * Three controller candidates (`fjord controller --zookeeper-connect`) on a ZooKeeper root of this
 * test's own (test/helpers/zookeeper.ts), three brokers in three zones naming all of them; topics
 * with replication factor 3 and min.insync.replicas=2.
 *  1. Smoke: KafkaJS writes records with acks=all, kcat and KafkaJS read them back.
 *  2. confluent-kafka-python (librdkafka 2.0.2, enable.idempotence, acks=all,
 *     test/interop/clients/replication_producer.py) writes 0, 1, 2, ... steadily.
 *  3. The active controller (the candidate named in `<root>/controller`, whose log says
 *     `Fjord controller N active: epoch E`) is SIGKILLed: another candidate becomes active with a
 *     higher epoch (znode and log line), and every broker registers with it again (its log line,
 *     and broker registrations committed to the metadata log in ZooKeeper under the new epoch).
 *  4. The leader of the partition with the most acknowledged records is SIGKILLed: kcat -L on the
 *     survivors shows a new leader, out of the ISR goes the dead broker, and the producer's
 *     records keep being acknowledged on that partition.
 *  5. The producer stops: every acknowledged record is in a full read (kcat) exactly once, at its
 *     acknowledged offset, in order. The killed broker is started again and rejoins every ISR.
 * Durations (controller failover, re-registration, leader election, the producer's longest pause)
 * are reported with t.diagnostic; nothing is asserted about them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import zookeeper from 'node-zookeeper-client';
import type { Client } from 'node-zookeeper-client';
import { startCluster, type ClusterHandle } from '../helpers/cluster.js';
import { requireKcat, requirePythonModule } from '../helpers/clients.js';
import { kafkajsConsume, kafkajsProduce } from '../helpers/node-clients.js';
import { uniqueTopic } from '../helpers/util.js';
import { connectClient, zookeeperForTest, type ZooKeeperForTest } from '../helpers/zookeeper.js';
import {
  checkAcked,
  countBy,
  createTopic,
  describeView,
  isRetriable,
  isrFull,
  kafkajsClient,
  largestGap,
  readTopic,
  sleep,
  startProducer,
  topicView,
  waitForViews,
  within,
  type ProducerRun,
} from './clients/replication-helpers.js';

const PARTITIONS = 3;
const RATE = 1000;
const SMOKE_RECORDS = 300;

interface ActiveController {
  id: number;
  endpoint: string;
  epoch: number;
}

function zkGet(client: Client, path: string): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    client.getData(path, (err, data) => {
      if (err) {
        if ((err as { code?: number }).code === zookeeper.Exception.NO_NODE) resolve(null);
        else reject(err);
        return;
      }
      resolve(data ?? Buffer.alloc(0));
    });
  });
}

function zkChildren(client: Client, path: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    client.getChildren(path, (err, children) => {
      if (err) {
        if ((err as { code?: number }).code === zookeeper.Exception.NO_NODE) resolve([]);
        else reject(err);
        return;
      }
      resolve(children);
    });
  });
}

/** `<root>/controller`: the active candidate, or null while none is. */
async function activeController(client: Client, root: string): Promise<ActiveController | null> {
  const data = await zkGet(client, `${root}/controller`);
  if (!data || data.length === 0) return null;
  return JSON.parse(data.toString('utf8')) as ActiveController;
}

interface LogEntry {
  batch: string;
  epoch: number;
  records: { type: string; id?: number; epoch?: number; fenced?: boolean; host?: string; port?: number }[];
}

/** The metadata log entries in ZooKeeper (`<root>/metadata/log/r-<seq>`), in sequence order. */
async function metadataLog(client: Client, root: string): Promise<LogEntry[]> {
  const dir = `${root}/metadata/log`;
  const names = (await zkChildren(client, dir)).sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)));
  const out: LogEntry[] = [];
  for (const n of names) {
    const d = await zkGet(client, `${dir}/${n}`);
    if (d && d.length > 0) out.push(JSON.parse(d.toString('utf8')) as LogEntry);
  }
  return out;
}

function logOf(h: ClusterHandle, ref: number | { role: 'controller' | 'broker'; id: number }): string {
  try {
    return readFileSync(h.cluster.process(ref).logFile, 'utf8');
  } catch {
    return '';
  }
}

/** `Fjord controller N active: epoch E` lines of a controller's log. */
function activeLines(h: ClusterHandle, id: number): number[] {
  const re = new RegExp(`^Fjord controller ${id} active: epoch (\\d+)`, 'gm');
  return [...logOf(h, { role: 'controller', id }).matchAll(re)].map((m) => Number(m[1]));
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined> | T | null | undefined, describeLast?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null && v !== undefined && (v as unknown) !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describeLast ? `: ${describeLast()}` : ''}`);
    await sleep(100);
  }
}

describe('replication: ZooKeeper mode, controller and leader failover', { timeout: 900_000 }, () => {
  let zk: ZooKeeperForTest | undefined;
  let h: ClusterHandle | undefined;
  let zkc: Client | undefined;
  let run: ProducerRun | undefined;

  before(async () => {
    await requirePythonModule('confluent_kafka');
    await requireKcat();
    zk = await zookeeperForTest();
    h = await startCluster({
      brokers: 3,
      zones: 3,
      metadata: { mode: 'zookeeper', connect: `${zk.connectString}${zk.root}`, controllers: 3 },
      brokerSettings: { 'auto.create.topics.enable': 'false' },
      readyTimeoutMs: 60_000,
      stopTimeoutMs: 30_000,
    });
    zkc = await connectClient(zk.connectString);
  });

  after(async () => {
    run?.client.kill();
    zkc?.close();
    await h?.stop();
    await zk?.stop();
  });

  it('SIGKILL of the active controller, then of a partition leader: a candidate takes over, brokers re-register, a new leader is elected, no acked record lost or duplicated', { timeout: 840_000 }, async (t) => {
    const c = h!;
    const root = zk!.root;
    const client = zkc!;
    await c.explain(async () => {
      // ---- who is active
      const first = await waitFor('an active controller in ZooKeeper', 60_000, () => activeController(client, root));
      const controllerIds = c.cluster.controllerIds;
      assert.ok(controllerIds.includes(first.id), `the active controller ${JSON.stringify(first)} is one of ${controllerIds.join(', ')}`);
      await waitFor(`controller ${first.id}'s "active" log line`, 30_000, () => activeLines(c, first.id).includes(first.epoch) || null);
      for (const id of controllerIds) if (id !== first.id) assert.deepEqual(activeLines(c, id), [], `standby controller ${id} says it is active`);
      t.diagnostic(`active controller: ${first.id} (epoch ${first.epoch}, ${first.endpoint}); standbys ${controllerIds.filter((id) => id !== first.id).join(', ')}`);

      // ---- smoke: KafkaJS writes, kcat and KafkaJS read
      const smoke = uniqueTopic('zk-smoke');
      await createTopic(c.bootstrap, smoke, PARTITIONS, 3, { 'min.insync.replicas': '2' });
      await waitForViews(c, smoke, 'a full ISR', isrFull(PARTITIONS, 3));
      const smokeValues = Array.from({ length: SMOKE_RECORDS }, (_, i) => `smoke-${i}`);
      await kafkajsProduce(kafkajsClient(c.bootstrap, 'zk-smoke-producer'), smoke, smokeValues.map((v, i) => ({ partition: i % PARTITIONS, key: null, value: Buffer.from(v), headers: [] })), { acks: -1, idempotent: true });
      const byKcat = await readTopic(c.bootstrap, smoke);
      assert.deepEqual(byKcat.map((r) => r.v).sort(), [...smokeValues].sort(), 'kcat reads what KafkaJS wrote');
      for (let p = 0; p < PARTITIONS; p++) {
        assert.deepEqual(byKcat.filter((r) => r.p === p).map((r) => r.v), smokeValues.filter((_, i) => i % PARTITIONS === p), `kcat: partition ${p} in order`);
      }
      const byKafkaJS = await kafkajsConsume(kafkajsClient(c.bootstrap, 'zk-smoke-consumer'), smoke);
      assert.deepEqual(byKafkaJS.map((r) => `${r.partition}:${r.offset}:${r.value?.toString()}`).sort(), byKcat.map((r) => `${r.p}:${r.o}:${r.v}`).sort(), 'KafkaJS reads what kcat reads');

      // ---- the steady producer
      const topic = uniqueTopic('zk-failover');
      await createTopic(c.bootstrap, topic, PARTITIONS, 3, { 'min.insync.replicas': '2' });
      await waitForViews(c, topic, 'a full ISR', isrFull(PARTITIONS, 3));
      run = startProducer(['--bootstrap', c.bootstrap, '--topic', topic, '--rate', String(RATE), '--duration', '0']);
      const producer = run;
      const ackCountAfter = (ms: number, p?: number) => producer.acks.filter((a) => a.ms > ms && (p === undefined || a.p === p)).length;
      await waitFor('the first acknowledgement', 60_000, () => producer.acks.length > 0 || null, () => producer.client.stderr().slice(-3000));
      await sleep(3000);

      // ---- SIGKILL the active controller
      const brokerLogOffsets = new Map(c.brokerIds.map((id) => [id, logOf(c, id).length]));
      const controllerKillAt = Date.now();
      await c.cluster.kill({ role: 'controller', id: first.id }, 'SIGKILL');
      t.diagnostic(`controller ${first.id} SIGKILLed; ${producer.acks.length} acks so far`);

      const second = await waitFor('another candidate active in ZooKeeper', 120_000, async () => {
        const a = await activeController(client, root);
        return a && a.id !== first.id ? a : null;
      });
      const znodeMs = Date.now() - controllerKillAt;
      assert.ok(second.epoch > first.epoch, `the new controller's epoch ${second.epoch} is above ${first.epoch}`);
      await waitFor(`controller ${second.id}'s "active: epoch ${second.epoch}" log line`, 30_000, () => activeLines(c, second.id).includes(second.epoch) || null);
      const activeLineMs = Date.now() - controllerKillAt;
      const third = controllerIds.find((id) => id !== first.id && id !== second.id)!;
      assert.deepEqual(activeLines(c, third), [], `controller ${third} stays a standby`);

      // every broker registers with the new controller
      const reRegistered = new Map<number, number>();
      await waitFor('every broker registered with the new controller', 120_000, () => {
        for (const id of c.brokerIds) {
          if (reRegistered.has(id)) continue;
          const lines = logOf(c, id).slice(brokerLogOffsets.get(id)!).split('\n');
          if (lines.some((l) => l.includes('"msg":"registered with the controller again"') && l.includes(`"controller":${second.id}`))) reRegistered.set(id, Date.now() - controllerKillAt);
        }
        return reRegistered.size === c.brokerIds.length || null;
      }, () => `registered: ${JSON.stringify([...reRegistered])}`);
      // ... and the new controller committed their registrations under its epoch
      const entries = await metadataLog(client, root);
      const registeredUnderNew = new Set(entries.filter((e) => e.epoch === second.epoch).flatMap((e) => e.records).filter((r) => r.type === 'broker' && r.fenced === false).map((r) => r.id!));
      assert.deepEqual([...registeredUnderNew].sort(), [...c.brokerIds].sort(), `broker registrations in the metadata log under epoch ${second.epoch}`);
      const fencedUnderNew = entries.filter((e) => e.epoch === second.epoch).flatMap((e) => e.records).filter((r) => r.type === 'broker' && r.fenced === true).map((r) => r.id);
      t.diagnostic(
        `controller failover: candidate ${second.id} active (epoch ${first.epoch} -> ${second.epoch}) in ZooKeeper ${znodeMs} ms after the SIGKILL, its log line after ${activeLineMs} ms; ` +
          `brokers registered again after ${[...reRegistered].sort((a, b) => a[0] - b[0]).map(([id, ms]) => `${id}: ${ms} ms`).join(', ')}; ` +
          `brokers fenced under the new epoch: ${fencedUnderNew.length ? fencedUnderNew.join(', ') : 'none'}`,
      );
      const gapAroundController = largestGap(producer.acks.filter((a) => a.ms >= controllerKillAt - 1000).map((a) => a.ms));
      t.diagnostic(`producer during the controller failover: ${ackCountAfter(controllerKillAt)} acks since the kill; longest pause between acks ${gapAroundController.gapMs} ms (from ${gapAroundController.fromMs - controllerKillAt} ms after the kill)`);
      assert.ok(ackCountAfter(controllerKillAt) > 0, 'acknowledgements after the controller was killed');

      // metadata from every broker names all three, through the new controller's image
      const viewsAfterController = await waitForViews(c, topic, 'a full ISR after the controller failover', isrFull(PARTITIONS, 3), { timeoutMs: 60_000 });
      t.diagnostic(`after the controller failover: ${describeView([...viewsAfterController.values()][0]!)}`);

      // ---- SIGKILL the leader of the busiest partition
      await sleep(2000);
      const perPartition = countBy(producer.acks, (a) => String(a.p));
      const victimPartition = Number(Object.entries(perPartition).sort((a, b) => b[1] - a[1])[0]![0]);
      const viewBefore = await topicView(c.bootstrap, topic);
      assert.ok(viewBefore, 'metadata before the leader kill');
      const victim = viewBefore.partitions.find((p) => p.partition === victimPartition)!.leader;
      assert.ok(c.brokerIds.includes(victim), `partition ${victimPartition} has a leader: ${describeView(viewBefore)}`);
      const survivors = c.brokerIds.filter((id) => id !== victim);
      const leaderKillAt = Date.now();
      await c.kill(victim, 'SIGKILL');
      t.diagnostic(`broker ${victim} (leader of p${victimPartition}, the busiest: ${JSON.stringify(perPartition)}) SIGKILLed; ${describeView(viewBefore)}`);

      const views = await waitForViews(
        c,
        topic,
        `a new leader of p${victimPartition} without broker ${victim} in the ISR`,
        (v) => v.partitions.every((p) => p.leader >= 0 && p.leader !== victim && !p.isr.includes(victim) && p.isr.length >= 2),
        { ids: survivors, timeoutMs: 120_000, intervalMs: 200 },
      );
      const electedMs = Date.now() - leaderKillAt;
      const viewAfter = [...views.values()][0]!;
      const newLeader = viewAfter.partitions.find((p) => p.partition === victimPartition)!.leader;
      t.diagnostic(`leader failover: kcat -L on brokers ${survivors.join(', ')} shows broker ${newLeader} leading p${victimPartition} ${electedMs} ms after the SIGKILL: ${describeView(viewAfter)}`);

      await waitFor(`acknowledgements on p${victimPartition} after the leader kill`, 180_000, () => ackCountAfter(leaderKillAt, victimPartition) > 200 || null, () => `${ackCountAfter(leaderKillAt, victimPartition)} so far`);
      await sleep(2000);

      // ---- stop producing, check every acknowledgement
      producer.client.stop();
      const exit = await within(producer.client.done, 300_000, 'the producer');
      const summary = producer.summary;
      t.diagnostic(`producer: ${JSON.stringify(summary)}; exit ${JSON.stringify(exit)}`);
      t.diagnostic(`producer error_cb: ${JSON.stringify(countBy(producer.clientErrors, (e) => e.error))}${producer.clientErrors.length ? `; first: ${producer.clientErrors.slice(0, 5).map((e) => `${e.error}: ${e.text}`).join(' | ')}` : ''}`);
      assert.ok(summary, `the producer printed no summary (exit ${JSON.stringify(exit)}):\n${producer.client.stderr().slice(-4000)}`);
      assert.equal(summary.fatal, null, 'fatal producer error');
      assert.deepEqual(producer.failures.slice(0, 10), [], `${producer.failures.length} records failed delivery: ${JSON.stringify(countBy(producer.failures, (f) => f.error))}`);
      assert.equal(summary.unflushed, 0, 'records left unflushed');
      assert.equal(producer.acks.length, producer.produced, 'every produced record acknowledged');
      const unexpected = producer.clientErrors.filter((e) => e.fatal || !isRetriable(e.error));
      assert.deepEqual(unexpected.map((e) => `${e.error}: ${e.text}`), [], 'non-retriable client errors');

      const victimTimes = producer.acks.filter((a) => a.p === victimPartition).map((a) => a.ms);
      const lastBefore = Math.max(...victimTimes.filter((ms) => ms <= leaderKillAt));
      const firstAfter = Math.min(...victimTimes.filter((ms) => ms > leaderKillAt));
      const gapAroundLeader = largestGap(producer.acks.filter((a) => a.ms >= leaderKillAt - 1000).map((a) => a.ms));
      t.diagnostic(
        `producer around the leader kill: p${victimPartition} last ack ${leaderKillAt - lastBefore} ms before it, next ${firstAfter - leaderKillAt} ms after; ` +
          `longest pause between any acks ${gapAroundLeader.gapMs} ms (from ${gapAroundLeader.fromMs - leaderKillAt} ms after the kill)`,
      );

      const readStarted = Date.now();
      const read = await readTopic(survivors.map((id) => c.broker(id).address).join(','), topic);
      const check = checkAcked(producer.acks, read);
      t.diagnostic(`full read: ${read.length} records in ${Date.now() - readStarted} ms (${producer.acks.length} acked)`);
      assert.deepEqual(check.missing, [], `${check.missingCount} acknowledged records missing`);
      assert.deepEqual(check.moved, [], 'acknowledged records not at their acknowledged offset');
      assert.deepEqual(check.duplicates, [], `${check.duplicateCount} duplicated values`);
      assert.deepEqual(check.disorder, [], 'values out of the producer order within a partition');
      assert.equal(read.length, producer.acks.length, 'the read holds exactly the acknowledged records');

      // ---- the killed broker comes back under the new controller
      const restartAt = Date.now();
      await c.restart(victim);
      await waitForViews(c, topic, `broker ${victim} back in every ISR`, isrFull(PARTITIONS, 3), { timeoutMs: 120_000 });
      t.diagnostic(`broker ${victim} restarted and back in every ISR after ${Date.now() - restartAt} ms`);
      const final = await activeController(client, root);
      assert.deepEqual(final && { id: final.id, epoch: final.epoch }, { id: second.id, epoch: second.epoch }, 'the same controller is still active');
    });
  });
});
