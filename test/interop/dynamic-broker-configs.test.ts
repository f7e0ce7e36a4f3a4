/**
 * Dynamic broker configs as cluster metadata, with real clients against a controller process and
 * 3 broker processes:
 *  - @platformatic/kafka IncrementalAlterConfigs sets the cluster default (BROKER "")
 *    volume.size.bytes; every broker runs with it (DescribeConfigs source
 *    DYNAMIC_DEFAULT_BROKER_CONFIG, DescribeLogDirs v4 total bytes = the quota);
 *  - KafkaJS AlterConfigs sets broker 1's own follower.replication.throttled.rate
 *    (DYNAMIC_BROKER_CONFIG on broker 1 only);
 *  - a SIGKILLed broker started again has both back, so has one started after the controller
 *    process was SIGKILLed and started again (it replays its metadata log);
 *  - deleting them (IncrementalAlterConfigs DELETE, AlterConfigs with no entries) removes them
 *    from every broker, also after a restart.
 * Broker ids are 0..2: @platformatic/kafka sends a BROKER "" resource to broker Number("") = 0,
 * and KafkaJS cannot send one at all (it looks for a broker with id ""), so the default goes
 * through @platformatic/kafka to broker 0 and reaches the others through the controller.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs, { type Admin as KafkaJSAdmin } from 'kafkajs';
import { Admin as PlatformaticAdmin } from '@platformatic/kafka';
import type { ClusterHandle } from '../helpers/cluster.js';
import { bootstrapOf, sleep, startReplicatedCluster } from './clients/replication-helpers.js';

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs;

const BROKER = 4;
const VOLUME = 'volume.size.bytes';
const FOLLOWER = 'follower.replication.throttled.rate';
const Source = { DYNAMIC_BROKER_CONFIG: 2, DYNAMIC_DEFAULT_BROKER_CONFIG: 3, DEFAULT_CONFIG: 5 };
const QUOTA = String(64 * 1024 * 1024);
const RATE = String(256 * 1024);
const IDS = [0, 1, 2];

let h: ClusterHandle;

before(async () => {
  h = await startReplicatedCluster({ brokerIds: IDS });
});

after(async () => {
  await h?.stop();
});

/** Runs fn with fresh clients on the brokers running now (a restart changes nothing of their addresses, but connections go stale). */
async function withClients<T>(fn: (c: { kjs: KafkaJSAdmin; plt: PlatformaticAdmin }) => Promise<T>): Promise<T> {
  const bootstrap = bootstrapOf(h);
  const kafka = new Kafka({ clientId: 'dynamic-configs', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 200 } });
  const kjs = kafka.admin();
  await kjs.connect();
  const plt = new PlatformaticAdmin({ clientId: 'dynamic-configs-plt', bootstrapBrokers: bootstrap.split(','), retries: 3 });
  try {
    return await fn({ kjs, plt });
  } finally {
    await plt.close();
    await kjs.disconnect();
  }
}

type Seen = Record<string, { value: string | null; source: number }>;

/** What each broker says (KafkaJS DescribeConfigs of its own BROKER resource) of the two settings, and its volume's total bytes (@platformatic/kafka DescribeLogDirs v4). */
async function observe(): Promise<Map<number, Seen & { totalBytes: number }>> {
  return withClients(async ({ kjs, plt }) => {
    const out = new Map<number, Seen & { totalBytes: number }>();
    const described = await kjs.describeConfigs({ includeSynonyms: true, resources: IDS.map((id) => ({ type: ConfigResourceTypes.BROKER, name: String(id), configNames: [VOLUME, FOLLOWER] })) });
    const dirs = await plt.describeLogDirs({ topics: [] });
    for (const r of described.resources) {
      const seen: Seen = {};
      for (const e of r.configEntries) seen[e.configName] = { value: e.configValue, source: (e as typeof e & { configSource: number }).configSource };
      const dir = dirs.find((d) => d.broker === Number(r.resourceName));
      assert.ok(dir, `DescribeLogDirs of broker ${r.resourceName}`);
      out.set(Number(r.resourceName), { ...seen, totalBytes: Number(dir.results[0]!.totalBytes) } as Seen & { totalBytes: number });
    }
    return out;
  });
}

/** What every broker should say while the default quota and broker 1's throttle are set (or, `set` false, once they are gone). */
function expected(set: boolean): Map<number, Record<string, unknown>> {
  return new Map(IDS.map((id) => {
    const volume = set ? { value: QUOTA, source: Source.DYNAMIC_DEFAULT_BROKER_CONFIG } : { value: '-1', source: Source.DEFAULT_CONFIG };
    const follower = set && id === 1 ? { value: RATE, source: Source.DYNAMIC_BROKER_CONFIG } : { value: '0', source: Source.DEFAULT_CONFIG };
    return [id, { [VOLUME]: volume, [FOLLOWER]: follower, ...(set ? { totalBytes: Number(QUOTA) } : {}) }];
  }));
}

/** Waits until every broker says what `expected(set)` says (a broker not the one changed follows the controller's push). */
async function settled(set: boolean, what: string): Promise<void> {
  const want = expected(set);
  const until = Date.now() + 30_000;
  for (;;) {
    const seen = await observe();
    const got = new Map([...seen].map(([id, s]) => {
      const { totalBytes, ...rest } = s;
      return [id, set ? { ...rest, totalBytes } : rest];
    }));
    try {
      assert.deepEqual(got, want, what);
      if (!set) for (const [id, s] of seen) assert.notEqual(s.totalBytes, Number(QUOTA), `${what}: broker ${id} has no quota`);
      return;
    } catch (e) {
      if (Date.now() > until) throw e;
    }
    await sleep(250);
  }
}

function controllerId(): number {
  const c = h.cluster.status().find((p) => p.role === 'controller');
  assert.ok(c, 'a controller process');
  return c.id;
}

test('the cluster default and a broker\'s own setting reach the brokers and survive broker and controller crashes; deleting them is for good', { timeout: 300_000 }, () =>
  h.explain(async () => {
    await withClients(async ({ kjs, plt }) => {
      await plt.incrementalAlterConfigs({ resources: [{ resourceType: BROKER, resourceName: '', configs: [{ name: VOLUME, configOperation: 0, value: QUOTA }] }] });
      await kjs.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: FOLLOWER, value: RATE }] }] });
      // validateOnly changes nothing
      await kjs.alterConfigs({ validateOnly: true, resources: [{ type: ConfigResourceTypes.BROKER, name: '2', configEntries: [{ name: FOLLOWER, value: '1' }] }] });
      const [defaults] = await plt.describeConfigs({ resources: [{ resourceType: BROKER, resourceName: '' }] });
      assert.deepEqual(defaults!.configs.map((c) => [c.name, c.value, c.configSource]), [[VOLUME, QUOTA, Source.DYNAMIC_DEFAULT_BROKER_CONFIG]]);
    });
    await settled(true, 'set');

    // a broker SIGKILLed and started again
    await h.kill(1);
    await h.restart(1);
    await settled(true, 'after broker 1 was SIGKILLed and started again');

    // the controller SIGKILLed and started again (it replays its log), then a broker restarting
    const controller = { role: 'controller' as const, id: controllerId() };
    await h.cluster.kill(controller);
    await h.cluster.restart(controller);
    await h.kill(2);
    await h.restart(2);
    await settled(true, 'after the controller, then broker 2, were SIGKILLed and started again');

    await withClients(async ({ kjs, plt }) => {
      await plt.incrementalAlterConfigs({ resources: [{ resourceType: BROKER, resourceName: '', configs: [{ name: VOLUME, configOperation: 1 }] }] });
      await kjs.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [] }] });
    });
    await settled(false, 'deleted');
    await h.kill(1);
    await h.restart(1);
    await settled(false, 'deleted, after broker 1 was SIGKILLed and started again');
  }));
