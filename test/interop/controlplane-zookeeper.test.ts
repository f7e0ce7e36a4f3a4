/**
 * The Kafka version decides the metadata mode, as in MSK: a version without `.kraft` gets a
 * ZooKeeper the control plane provisions (reported in zookeeperConnectString); where ZooKeeper
 * cannot run (here: a control plane whose PATH has no java), the cluster runs with the embedded
 * controller instead and says so in stateInfo — never silently. Driven with the AWS CLI v2.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startControlPlane, type ControlPlaneHandle } from '../helpers/controlplane.js';
import { sleep } from './clients/replication-helpers.js';

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

describe('control plane: the Kafka version decides the metadata mode', { timeout: 300_000 }, () => {
  const planes: ControlPlaneHandle[] = [];
  after(async () => {
    for (const cp of planes) await cp.stop();
  });

  it('3.6.0: a ZooKeeper the control plane runs, in zookeeperConnectString', async () => {
    const cp = await startControlPlane();
    planes.push(cp);
    const info = await createAndWait(cp, 'zk-mode', '3.6.0');
    assert.match(info.ZookeeperConnectString ?? '', /^127\.0\.0\.1:\d+$/);
    assert.ok(await accepts(info.ZookeeperConnectString!), 'the ZooKeeper answers');
    assert.equal(info.StateInfo?.Code, undefined);
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
