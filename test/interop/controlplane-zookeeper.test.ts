/**
 * The Kafka version decides the metadata mode, as in MSK: a version without `.kraft` gets a
 * ZooKeeper ensemble of three nodes the control plane provisions (all three in
 * zookeeperConnectString); its leader SIGKILLed, the cluster keeps serving (kcat produces to a new
 * topic and reads it back), the node is restarted and rejoins (a HEAL
 * operation). Where ZooKeeper cannot run (here: a control plane whose PATH has no java), the
 * cluster runs with the embedded controller instead and says so in stateInfo — never silently.
 * Driven with the AWS CLI v2.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { requireKcat, runKcat } from '../helpers/clients.js';
import { clusterDirOf, startControlPlane, type ControlPlaneHandle } from '../helpers/controlplane.js';
import { uniqueTopic } from '../helpers/util.js';
import { createTopic, readTopic, sleep } from './clients/replication-helpers.js';

interface Info { ClusterArn: string; State: string; StateInfo?: { Code?: string; Message?: string }; ZookeeperConnectString?: string }

async function createAndWait(cp: ControlPlaneHandle, name: string, version: string): Promise<Info> {
  const { ClusterArn } = await cp.awsJson<{ ClusterArn: string }>([
    'create-cluster', '--cluster-name', name, '--kafka-version', version, '--number-of-broker-nodes', '2',
    '--broker-node-group-info', JSON.stringify({ InstanceType: 'kafka.m5.large', ClientSubnets: ['subnet-a', 'subnet-b'] }),
  ]);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const info = (await cp.awsJson<{ ClusterInfo: Info }>(['describe-cluster', '--cluster-arn', ClusterArn])).ClusterInfo;
    if (info.State === 'ACTIVE') return info;
    assert.notEqual(info.State, 'FAILED', JSON.stringify(info));
    assert.ok(Date.now() < deadline, `not ACTIVE: ${info.State}`);
    await sleep(200);
  }
}

function accepts(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const s = connect({ host: host!, port: Number(port) });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A ZooKeeper node's `srvr` Mode (leader, follower), or null when it does not serve. */
function modeOf(address: string): Promise<string | null> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    let out = '';
    const s = connect({ host: host!, port: Number(port) });
    const done = () => (s.destroy(), resolve(/^Mode: *(\S+)/m.exec(out)?.[1] ?? null));
    s.setTimeout(2000, done);
    s.once('connect', () => s.write('srvr'));
    s.on('data', (d) => (out += d.toString()));
    s.once('end', done);
    s.once('error', done);
  });
}

describe('control plane: the Kafka version decides the metadata mode', { timeout: 300_000 }, () => {
  const planes: ControlPlaneHandle[] = [];
  after(async () => {
    for (const cp of planes) await cp.stop();
  });

  it('3.6.0: a ZooKeeper ensemble of three the control plane runs; its leader killed, the cluster serves and heals', async (t) => {
    await requireKcat();
    const cp = await startControlPlane();
    planes.push(cp);
    const info = await createAndWait(cp, 'zk-mode', '3.6.0');
    assert.match(info.ZookeeperConnectString ?? '', /^127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){2}$/, 'three nodes in zookeeperConnectString');
    const nodes = info.ZookeeperConnectString!.split(',');
    assert.deepEqual((await Promise.all(nodes.map(modeOf))).sort(), ['follower', 'follower', 'leader']);
    assert.equal(info.StateInfo?.Code, undefined);

    const bootstrap = (await cp.awsJson<{ BootstrapBrokerString: string }>(['get-bootstrap-brokers', '--cluster-arn', info.ClusterArn])).BootstrapBrokerString;
    const heals = async () =>
      ((await cp.awsJson<{ ClusterOperationInfoList?: { OperationArn: string; OperationType: string; OperationState: string }[] }>([
        'list-cluster-operations', '--cluster-arn', info.ClusterArn,
      ])).ClusterOperationInfoList ?? []).filter((op) => op.OperationType === 'HEAL');
    const known = new Set((await heals()).map((op) => op.OperationArn));
    const modes = await Promise.all(nodes.map(modeOf));
    const leader = modes.indexOf('leader') + 1;
    const pidFile = join(dirname(clusterDirOf(cp.dataDir, 'zk-mode')), 'zookeeper', `node-${leader}`, 'zookeeper.pid');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const began = Date.now();
    process.kill(pid, 'SIGKILL');

    // With two of three nodes the controllers keep a quorum: a new topic gets leaders, kcat
    // produces to it with acks=all and reads every record back.
    const topic = uniqueTopic('zk-failover');
    await createTopic(bootstrap, topic, 2, 2);
    const lines = Array.from({ length: 200 }, (_, i) => `after-zookeeper-leader-kill-${i}`);
    await runKcat(['-b', bootstrap, '-P', '-t', topic, '-X', 'acks=all'], { input: lines.join('\n') + '\n', timeoutMs: 60_000 });
    const read = await readTopic(bootstrap, topic, 60_000);
    assert.deepEqual(read.map((r) => r.v).sort(), [...lines].sort());

    const deadline = Date.now() + 120_000;
    for (;;) {
      const heal = (await heals()).find((op) => !known.has(op.OperationArn));
      const now = await Promise.all(nodes.map(modeOf));
      const state = (await cp.awsJson<{ ClusterInfo: Info }>(['describe-cluster', '--cluster-arn', info.ClusterArn])).ClusterInfo.State;
      if (heal?.OperationState === 'UPDATE_COMPLETE' && state === 'ACTIVE' && now.every((m) => m !== null)) break;
      assert.ok(Date.now() < deadline, `not healed: HEAL ${heal?.OperationState ?? 'none'}, ${state}, modes ${now.join(',')}`);
      await sleep(200);
    }
    const restarted = Number(readFileSync(pidFile, 'utf8'));
    assert.notEqual(restarted, pid, 'the node runs as a new process');
    t.diagnostic(`ZooKeeper leader (node ${leader}) SIGKILLed: ${read.length} records produced and read right after the kill; the node restarted, rejoined and ACTIVE after ${Date.now() - began} ms`);
    const kraft = await createAndWait(cp, 'kraft-mode', '3.7.x.kraft');
    assert.equal(kraft.ZookeeperConnectString, undefined);
  });

  it('without java: the embedded controller, and stateInfo says so', async () => {
    const cp = await startControlPlane({ env: { PATH: '/nonexistent' } });
    planes.push(cp);
    const info = await createAndWait(cp, 'no-java', '3.6.0');
    assert.equal(info.StateInfo?.Code, 'ZOOKEEPER_UNAVAILABLE');
    assert.match(info.StateInfo?.Message ?? '', /java/);
    assert.match(info.StateInfo?.Message ?? '', /embedded controller/);
    assert.equal(info.ZookeeperConnectString, undefined);
    const bootstrap = (await cp.awsJson<{ BootstrapBrokerString: string }>(['get-bootstrap-brokers', '--cluster-arn', info.ClusterArn])).BootstrapBrokerString;
    for (const a of bootstrap.split(',')) assert.ok(await accepts(a), `${a} serves`);
  });
});
