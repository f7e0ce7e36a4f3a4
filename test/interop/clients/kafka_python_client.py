#!/usr/bin/python3
"""kafka-python 2.0.2 (Debian python3-kafka, codecs from python3-snappy/-lz4/-zstandard) driver.

  produce  --bootstrap B --topic T --input records.jsonl [--compression C] [--acks A]
  consume  --bootstrap B --topic T --output out.jsonl [--timeout S]
  admin    --bootstrap B --prefix P
"""
import argparse
import sys
import time

import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic
from kafka import errors as Errors

from interop_common import Steps, emit, log, read_records, record_json


def common_conf(args):
    return {'bootstrap_servers': args.bootstrap, 'request_timeout_ms': 30000}


# ------------------------------------------------------------------------------------------ produce

def cmd_produce(args):
    records = read_records(args.input)
    acks = args.acks
    if acks not in ('all',):
        acks = int(acks)
    p = KafkaProducer(
        compression_type=None if args.compression == 'none' else args.compression,
        acks=acks,
        linger_ms=5,
        batch_size=64 * 1024,
        max_request_size=2000000,
        retries=3,
        **common_conf(args))
    futures = []
    for r in records:
        kw = dict(value=r['v'], key=r['k'], partition=r['p'], headers=list(r['h']))
        if r['t'] is not None:
            kw['timestamp_ms'] = r['t']
        futures.append(p.send(args.topic, **kw))
    p.flush(timeout=args.flush_timeout)
    delivered = 0
    errors = []
    for i, f in enumerate(futures):
        try:
            f.get(timeout=1)
            delivered += 1
        except Exception as e:  # noqa: BLE001
            if len(errors) < 20:
                errors.append('record %d: %s: %s' % (i, type(e).__name__, e))
    p.close(timeout=10)
    emit({'summary': True, 'delivered': delivered, 'total': len(records), 'errors': errors})
    if delivered != len(records):
        sys.exit(1)


# ------------------------------------------------------------------------------------------ consume

def cmd_consume(args):
    c = KafkaConsumer(
        group_id=None,  # no consumer group: assign() + seek_to_beginning()
        enable_auto_commit=False,
        auto_offset_reset='earliest',
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
        consumer_timeout_ms=1000,
        **common_conf(args))
    parts = None
    deadline = time.time() + 30
    while parts is None and time.time() < deadline:
        parts = c.partitions_for_topic(args.topic)
        if parts is None:
            time.sleep(0.2)
    if not parts:
        log('no partitions for topic %s' % args.topic)
        sys.exit(2)
    tps = [TopicPartition(args.topic, p) for p in sorted(parts)]
    c.assign(tps)
    c.seek_to_beginning(*tps)
    end = c.end_offsets(tps)
    high = dict((tp.partition, off) for tp, off in end.items())
    log('end offsets: %s' % high)
    todo = set(p for p, h in high.items() if h > 0)
    n = 0
    deadline = time.time() + args.timeout
    with open(args.output, 'w', encoding='utf-8') as out:
        while todo and time.time() < deadline:
            batch = c.poll(timeout_ms=1000, max_records=2000)
            for tp, msgs in batch.items():
                for m in msgs:
                    p = tp.partition
                    if m.offset >= high.get(p, 0):
                        todo.discard(p)
                        continue
                    out.write(record_json(p, m.offset, m.key, m.value, m.headers, m.timestamp) + '\n')
                    n += 1
                    if m.offset >= high[p] - 1:
                        todo.discard(p)
    c.close()
    emit({'summary': True, 'consumed': n, 'high_watermarks': high})
    if todo:
        log('timed out; partitions not fully read: %s' % sorted(todo))
        sys.exit(4)


# ------------------------------------------------------------------------------------------ admin

def errno_of(e):
    return getattr(e, 'errno', None)


def try_call(fn):
    """Returns (result, exception)."""
    try:
        return fn(), None
    except Exception as e:  # noqa: BLE001
        return None, e


def ename(e):
    return None if e is None else '%s(errno=%s): %s' % (type(e).__name__, errno_of(e), e)


def topic_configs(admin, topic):
    resp = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    r = resp[0]
    res = r.resources[0]
    if res[0] != 0:
        raise Errors.for_code(res[0])(res[1])
    return dict((entry[0], entry[1]) for entry in res[4])


def partition_count(consumer, topic):
    consumer._client.poll(future=consumer._client.cluster.request_update())
    parts = consumer.partitions_for_topic(topic)
    return None if parts is None else len(parts)


def cmd_admin(args):
    s = Steps()
    admin = KafkaAdminClient(client_id='fjord-interop-admin', **common_conf(args))
    meta = KafkaConsumer(group_id=None, **common_conf(args))
    topic = args.prefix + '-admin'

    _, e = try_call(lambda: admin.create_topics([NewTopic(topic, 3, 1, topic_configs={'retention.ms': '86400000'})], timeout_ms=30000))
    s.check('create_topics', e is None, 'error=%s' % ename(e))
    n = partition_count(meta, topic)
    s.check('metadata shows 3 partitions', n == 3, 'partitions=%s' % n)

    _, e = try_call(lambda: admin.create_topics([NewTopic(topic, 3, 1)], timeout_ms=30000))
    s.check('create existing topic -> TopicAlreadyExistsError (36)', errno_of(e) == 36, 'got %s' % ename(e))

    _, e = try_call(lambda: admin.create_topics([NewTopic('bad/topic!name', 1, 1)], timeout_ms=30000))
    s.check('invalid topic name -> InvalidTopicError (17)', errno_of(e) == 17, 'got %s' % ename(e))

    _, e = try_call(lambda: admin.create_topics([NewTopic(args.prefix + '-badcfg', 1, 1, topic_configs={'retention.ms': 'xyz'})], timeout_ms=30000))
    s.check('create with bad config -> InvalidConfigurationError (40)', errno_of(e) == 40, 'got %s' % ename(e))

    resp, e = try_call(lambda: admin.create_partitions({topic: NewPartitions(5)}, timeout_ms=30000))
    code = None
    if resp is not None:
        code = resp.topic_errors[0][1]
    s.check('create_partitions to 5', e is None and code == 0, 'error=%s code=%s' % (ename(e), code))
    n = None
    for _ in range(20):
        n = partition_count(meta, topic)
        if n == 5:
            break
        time.sleep(0.25)
    s.check('metadata shows 5 partitions', n == 5, 'partitions=%s' % n)

    cfg, e = try_call(lambda: topic_configs(admin, topic))
    s.check('describe_configs', e is None, 'error=%s' % ename(e))
    if cfg is not None:
        s.check('describe_configs retention.ms=86400000', cfg.get('retention.ms') == '86400000', 'retention.ms=%r' % cfg.get('retention.ms'))

    resp, e = try_call(lambda: admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={'retention.ms': '7200000'})]))
    code = resp.resources[0][0] if resp is not None else None
    s.check('alter_configs retention.ms=7200000', e is None and code == 0, 'error=%s code=%s' % (ename(e), code))
    cfg, e = try_call(lambda: topic_configs(admin, topic))
    s.check('retention.ms is 7200000 after alter', cfg is not None and cfg.get('retention.ms') == '7200000',
            'retention.ms=%r error=%s' % (cfg and cfg.get('retention.ms'), ename(e)))

    resp, e = try_call(lambda: admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={'retention.ms': 'later'})]))
    code = resp.resources[0][0] if resp is not None else errno_of(e)
    s.check('alter_configs bad value -> INVALID_CONFIG (40)', code == 40, 'got code=%s error=%s' % (code, ename(e)))

    s.info('incremental_alter_configs', 'not available in kafka-python %s' % kafka.__version__)
    if not hasattr(admin, 'delete_records'):
        s.info('delete_records', 'not available in kafka-python %s' % kafka.__version__)

    # offsets by timestamp
    base = int(time.time() * 1000) - 600000
    prod = KafkaProducer(acks='all', linger_ms=0, **common_conf(args))
    futs = [prod.send(topic, value=b'ts-%d' % i, partition=0, timestamp_ms=base + i * 1000) for i in range(5)]
    prod.flush(timeout=30)
    ok = True
    for f in futs:
        try:
            f.get(timeout=5)
        except Exception as ex:  # noqa: BLE001
            ok = False
            s.fail('produce timestamped record', ename(ex))
            break
    prod.close(timeout=10)
    s.check('produce 5 timestamped records', ok)
    tp = TopicPartition(topic, 0)
    for ts, want in ((base + 1500, 2), (base, 0), (base + 4000, 4), (base + 99999, None)):
        res, e = try_call(lambda: meta.offsets_for_times({tp: ts}))
        got = None
        if res is not None:
            got = res[tp].offset if res.get(tp) is not None else None
        s.check('offsets_for_times(base%+d) -> %s' % (ts - base, want), e is None and got == want, 'got %s error=%s' % (got, ename(e)))
    b, e1 = try_call(lambda: meta.beginning_offsets([tp]))
    en, e2 = try_call(lambda: meta.end_offsets([tp]))
    s.check('beginning/end offsets of partition 0 are 0/5', b is not None and en is not None and b[tp] == 0 and en[tp] == 5,
            'got %s/%s errors %s %s' % (b, en, ename(e1), ename(e2)))

    _, e = try_call(lambda: admin.delete_topics([topic], timeout_ms=30000))
    s.check('delete_topics', e is None, 'error=%s' % ename(e))
    gone = False
    for _ in range(20):
        if topic not in admin.list_topics():
            gone = True
            break
        time.sleep(0.25)
    s.check('deleted topic is gone from list_topics', gone)
    _, e = try_call(lambda: admin.delete_topics([args.prefix + '-never-existed'], timeout_ms=30000))
    s.check('delete unknown topic -> UnknownTopicOrPartitionError (3)', errno_of(e) == 3, 'got %s' % ename(e))

    meta.close()
    admin.close()
    emit({'summary': True, 'failed': s.failed})
    sys.exit(1 if s.failed else 0)


def cmd_create_topic(args):
    admin = KafkaAdminClient(client_id='fjord-interop-admin', **common_conf(args))
    config = dict(kv.split('=', 1) for kv in args.config)
    _, e = try_call(lambda: admin.create_topics([NewTopic(args.topic, args.partitions, 1, topic_configs=config)], timeout_ms=30000))
    admin.close()
    emit({'summary': True, 'error': ename(e)})
    if e is not None:
        sys.exit(1)
    meta = KafkaConsumer(group_id=None, **common_conf(args))
    deadline = time.time() + 20
    while time.time() < deadline:
        if partition_count(meta, args.topic) == args.partitions:
            meta.close()
            return
        time.sleep(0.2)
    log('topic %s not visible with %d partitions after create' % (args.topic, args.partitions))
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    pp = sub.add_parser('produce')
    pp.add_argument('--bootstrap', required=True)
    pp.add_argument('--topic', required=True)
    pp.add_argument('--input', required=True)
    pp.add_argument('--compression', default='none')
    pp.add_argument('--acks', default='all')
    pp.add_argument('--flush-timeout', type=float, default=90)
    cp = sub.add_parser('consume')
    cp.add_argument('--bootstrap', required=True)
    cp.add_argument('--topic', required=True)
    cp.add_argument('--output', required=True)
    cp.add_argument('--timeout', type=float, default=90)
    ap_ = sub.add_parser('admin')
    ap_.add_argument('--bootstrap', required=True)
    ap_.add_argument('--prefix', required=True)
    ct = sub.add_parser('create-topic')
    ct.add_argument('--bootstrap', required=True)
    ct.add_argument('--topic', required=True)
    ct.add_argument('--partitions', type=int, default=4)
    ct.add_argument('--config', action='append', default=[])
    args = ap.parse_args()
    {'produce': cmd_produce, 'consume': cmd_consume, 'admin': cmd_admin, 'create-topic': cmd_create_topic}[args.cmd](args)


if __name__ == '__main__':
    main()
