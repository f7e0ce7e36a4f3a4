/**
 * Replication: consumers fetch from a replica in their own zone (KIP-392, issue 5).
 *
 * 3 brokers in az-1..az-3 with replica.selector.class=RackAwareReplicaSelector; a partition
 * whose replicas are [1, 2, 3] (leader 1 in az-1). confluent-kafka-python (librdkafka 2.0.2) with
 * client.rack=az-2 is told by the leader to read from broker 2 and reads every record there; a
 * consumer in the leader's own zone keeps reading from the leader. Leaders are placed by the
 * controller in distinct zones for RF 3 topics (checked through Metadata and the brokers' racks).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterHandle } from '../helpers/cluster.js';
import { requirePythonModule, runPython } from '../helpers/clients.js';
import { uniqueTopic } from '../helpers/util.js';
import { bootstrapOf, kafkajsClient, startReplicatedCluster } from './clients/replication-helpers.js';

const RACK_AWARE = 'org.apache.kafka.common.replica.RackAwareReplicaSelector';

async function readWithRack(bootstrap: string, topic: string, rack: string, count: number): Promise<{ values: string[]; migrations: string[] }> {
  const r = await runPython('rack_consumer.py', ['--bootstrap', bootstrap, '--topic', topic, '--rack', rack, '--count', String(count)], { timeoutMs: 120_000 });
  return JSON.parse(r.stdout.toString().trim().split('\n').pop()!) as { values: string[]; migrations: string[] };
}

describe('replication: rack awareness', { timeout: 300_000 }, () => {
  let h: ClusterHandle | undefined;
  let bootstrap = '';

  before(async () => {
    await requirePythonModule('confluent_kafka');
    h = await startReplicatedCluster({ brokerSettings: { 'replica.selector.class': RACK_AWARE } });
    bootstrap = bootstrapOf(h);
  });

  after(async () => {
    await h?.stop();
  });

  it('spreads the replicas of every partition over the three zones', async () => {
    const topic = uniqueTopic('rack-spread');
    const kafka = kafkajsClient(bootstrap, 'rack-admin');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 12, replicationFactor: 3 }], waitForLeaders: true });
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      const leaders = new Map<number, number>();
      for (const p of meta.topics[0]!.partitions) {
        // brokers 1..3 are in az-1..az-3: three distinct brokers are three distinct zones
        assert.equal(new Set(p.replicas).size, 3, `partition ${p.partitionId}: ${p.replicas}`);
        leaders.set(p.leader, (leaders.get(p.leader) ?? 0) + 1);
      }
      assert.deepEqual([...leaders.keys()].sort(), [1, 2, 3], `leaders spread over the brokers: ${JSON.stringify([...leaders])}`);
    } finally {
      await admin.disconnect();
    }
  });

  it('a consumer with client.rack reads from the in-sync replica in its zone', async (t) => {
    const topic = uniqueTopic('rack-fetch');
    const kafka = kafkajsClient(bootstrap, 'rack-producer');
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    try {
      await admin.createTopics({ topics: [{ topic, replicaAssignment: [{ partition: 0, replicas: [1, 2, 3] }] }], waitForLeaders: true });
      const values = Array.from({ length: 200 }, (_, i) => `r${i}`);
      await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value, partition: 0 })) });

      const remote = await readWithRack(bootstrap, topic, 'az-2', values.length);
      t.diagnostic(`az-2 consumer: ${remote.migrations.join(' | ')}`);
      assert.deepEqual(remote.values, values);
      assert.ok(remote.migrations.some((m) => /from broker 1 to 2/.test(m)), `librdkafka was not sent to broker 2: ${remote.migrations.join(' | ') || '(no migration)'}`);

      const local = await readWithRack(bootstrap, topic, 'az-1', values.length);
      assert.deepEqual(local.values, values);
      assert.equal(local.migrations.filter((m) => /to [23]\b/.test(m)).length, 0, `a consumer in the leader's zone moved: ${local.migrations.join(' | ')}`);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
