#!/usr/bin/python3
"""confluent-kafka-python (Debian python3-confluent-kafka, librdkafka 2.0.2) driver for the interop tests.

  produce  --bootstrap B --topic T --input records.jsonl [--compression C] [--acks A] [--ack-log]
  consume  --bootstrap B --topic T --output out.jsonl [--partitions 0,1,..] [--timeout S]
  admin    --bootstrap B --prefix P        (admin scenario, one JSON line per step)
  offsets-for-times --bootstrap B --topic T --partition N --timestamp MS
"""
import argparse
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka import OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

from interop_common import Steps, emit, log, read_records, record_json


def common_conf(args):
    return {
        'bootstrap.servers': args.bootstrap,
        'socket.timeout.ms': 30000,
        'broker.address.family': 'v4',
    }


# ------------------------------------------------------------------------------------------ produce

def cmd_produce(args):
    records = read_records(args.input)
    conf = common_conf(args)
    conf.update({
        'acks': args.acks,
        'compression.type': args.compression,
        'linger.ms': 5,
        'message.max.bytes': 2000000,
        'enable.idempotence': args.idempotent,
        'message.timeout.ms': args.message_timeout_ms,
        'queue.buffering.max.messages': 200000,
    })
    p = Producer(conf)
    state = {'delivered': 0, 'errors': []}

    def on_delivery(idx):
        def cb(err, msg):
            if err is not None:
                if len(state['errors']) < 20:
                    state['errors'].append('record %d: %s' % (idx, err))
                else:
                    state['errors'].append(None)
                return
            state['delivered'] += 1
            if args.ack_log:
                sys.stdout.write('ACK %d %d %d\n' % (idx, msg.partition(), msg.offset()))
                sys.stdout.flush()
        return cb

    for idx, r in enumerate(records):
        kwargs = dict(value=r['v'], key=r['k'], partition=r['p'], on_delivery=on_delivery(idx))
        if r['h']:
            kwargs['headers'] = list(r['h'])
        if r['t'] is not None:
            kwargs['timestamp'] = r['t']
        while True:
            try:
                p.produce(args.topic, **kwargs)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        if args.pause_every and idx % args.pause_every == args.pause_every - 1:
            # Stretch the run so a test can crash the broker while records are in flight.
            time.sleep(args.pause_ms / 1000.0)
            p.poll(0)
    remaining = p.flush(args.flush_timeout)
    errors = [e for e in state['errors'] if e is not None]
    summary = {'summary': True, 'delivered': state['delivered'], 'total': len(records),
               'undelivered': remaining, 'errors': errors, 'error_count': len(state['errors'])}
    emit(summary)
    if state['delivered'] != len(records):
        log('produce incomplete: %s' % json.dumps(summary))
        sys.exit(1)


# ------------------------------------------------------------------------------------------ consume

def cmd_consume(args):
    conf = common_conf(args)
    conf.update({
        # No consumer groups: partitions are assign()ed. librdkafka still wants a group.id for the
        # consumer instance in some versions; nothing is committed and no group is joined.
        'group.id': 'fjord-interop-unused',
        'enable.auto.commit': False,
        'enable.auto.offset.store': False,
        'enable.partition.eof': True,
        'auto.offset.reset': 'earliest',
        'fetch.message.max.bytes': 4 * 1024 * 1024,
    })
    c = Consumer(conf)
    md = c.list_topics(args.topic, timeout=20)
    tmd = md.topics.get(args.topic)
    if tmd is None or tmd.error is not None:
        log('topic metadata error: %s' % (tmd.error if tmd else 'missing'))
        sys.exit(2)
    partitions = sorted(tmd.partitions.keys()) if not args.partitions else [int(x) for x in args.partitions.split(',')]
    high = {}
    for p in partitions:
        lo, hi = c.get_watermark_offsets(TopicPartition(args.topic, p), timeout=20)
        high[p] = hi
    log('watermarks: %s' % high)
    todo = set(p for p in partitions if high[p] > 0)
    c.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in partitions])
    deadline = time.time() + args.timeout
    n = 0
    with open(args.output, 'w', encoding='utf-8') as out:
        while todo and time.time() < deadline:
            msgs = c.consume(num_messages=1000, timeout=1.0)
            for m in msgs:
                if m.error() is not None:
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    log('consume error: %s' % m.error())
                    sys.exit(3)
                p = m.partition()
                if m.offset() >= high.get(p, 0):
                    # Records past the high watermark captured at start are not part of the test.
                    todo.discard(p)
                    continue
                ts = m.timestamp()
                out.write(record_json(p, m.offset(), m.key(), m.value(), m.headers(), ts[1] if ts[0] != 0 else None) + '\n')
                n += 1
                if m.offset() >= high[p] - 1:
                    todo.discard(p)
    c.close()
    emit({'summary': True, 'consumed': n, 'high_watermarks': high})
    if todo:
        log('timed out; partitions not fully read: %s' % sorted(todo))
        sys.exit(4)


# ------------------------------------------------------------------------------------------ offsets-for-times

def cmd_offsets_for_times(args):
    conf = common_conf(args)
    conf.update({'group.id': 'fjord-interop-unused', 'enable.auto.commit': False})
    c = Consumer(conf)
    res = c.offsets_for_times([TopicPartition(args.topic, args.partition, args.timestamp)], timeout=20)
    emit({'offset': res[0].offset, 'error': str(res[0].error) if res[0].error else None})
    c.close()


# ------------------------------------------------------------------------------------------ admin

def err_name(e):
    """KafkaException from a future -> 'TOPIC_ALREADY_EXISTS' style name."""
    if isinstance(e, KafkaException) and e.args and isinstance(e.args[0], KafkaError):
        return e.args[0].name()
    return '%s:%s' % (type(e).__name__, e)


def future_error(fut, timeout=30):
    try:
        fut.result(timeout=timeout)
        return None
    except Exception as e:  # noqa: BLE001
        return err_name(e)


def describe_topic_config(admin, topic):
    res = ConfigResource('topic', topic)
    fs = admin.describe_configs([res], request_timeout=30)
    for _, f in fs.items():
        entries = f.result(timeout=30)
        return dict((k, v.value) for k, v in entries.items())
    return {}


def partition_count(admin, topic):
    md = admin.list_topics(topic=topic, timeout=20)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        return None
    return len(t.partitions)


def cmd_admin(args):
    s = Steps()
    admin = AdminClient(common_conf(args))
    topic = args.prefix + '-admin'

    # create with configs
    fs = admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1,
                                       config={'retention.ms': '86400000', 'cleanup.policy': 'delete'})],
                             operation_timeout=30, request_timeout=30)
    e = future_error(fs[topic])
    s.check('create_topics', e is None, 'error=%s' % e)
    s.check('metadata shows 3 partitions', partition_count(admin, topic) == 3, 'partitions=%s' % partition_count(admin, topic))

    # create again -> TOPIC_ALREADY_EXISTS
    fs = admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)], request_timeout=30)
    e = future_error(fs[topic])
    s.check('create existing topic -> TOPIC_ALREADY_EXISTS', e == 'TOPIC_ALREADY_EXISTS', 'got %s' % e)

    # invalid topic name -> INVALID_TOPIC_EXCEPTION
    bad = 'bad/topic!name'
    try:
        fs = admin.create_topics([NewTopic(bad, num_partitions=1, replication_factor=1)], request_timeout=30)
        e = future_error(fs[bad])
    except Exception as ex:  # noqa: BLE001
        e = 'client-side: %s' % err_name(ex)
    # librdkafka names error code 17 (Kafka's INVALID_TOPIC_EXCEPTION) "TOPIC_EXCEPTION".
    s.check('invalid topic name -> INVALID_TOPIC_EXCEPTION (librdkafka: TOPIC_EXCEPTION)', e == 'TOPIC_EXCEPTION', 'got %s' % e)

    # bad config value -> INVALID_CONFIG
    badcfg = args.prefix + '-badcfg'
    fs = admin.create_topics([NewTopic(badcfg, num_partitions=1, replication_factor=1, config={'retention.ms': 'not-a-number'})],
                             request_timeout=30)
    e = future_error(fs[badcfg])
    s.check('create with bad config value -> INVALID_CONFIG', e == 'INVALID_CONFIG', 'got %s' % e)

    # create partitions 3 -> 5
    fs = admin.create_partitions([NewPartitions(topic, 5)], request_timeout=30)
    e = future_error(fs[topic])
    s.check('create_partitions to 5', e is None, 'error=%s' % e)
    n = None
    for _ in range(20):
        n = partition_count(admin, topic)
        if n == 5:
            break
        time.sleep(0.25)
    s.check('metadata shows 5 partitions', n == 5, 'partitions=%s' % n)
    fs = admin.create_partitions([NewPartitions(topic, 2)], request_timeout=30)
    e = future_error(fs[topic])
    s.check('shrinking partitions -> INVALID_PARTITIONS', e == 'INVALID_PARTITIONS', 'got %s' % e)

    # describe configs
    cfg = s.run('describe_configs', lambda: describe_topic_config(admin, topic))
    if cfg is not None:
        s.check('describe_configs retention.ms=86400000', cfg.get('retention.ms') == '86400000', 'retention.ms=%r' % cfg.get('retention.ms'))
        s.check('describe_configs lists defaults (segment.bytes)', 'segment.bytes' in cfg, 'keys=%s' % sorted(cfg.keys())[:15])

    # alter configs (non-incremental)
    fs = admin.alter_configs([ConfigResource('topic', topic, set_config={'retention.ms': '3600000', 'cleanup.policy': 'delete'})],
                             request_timeout=30)
    e = None
    for _, f in fs.items():
        e = future_error(f)
    s.check('alter_configs retention.ms=3600000', e is None, 'error=%s' % e)
    cfg = s.run('describe after alter', lambda: describe_topic_config(admin, topic))
    if cfg is not None:
        s.check('retention.ms is 3600000 after alter', cfg.get('retention.ms') == '3600000', 'retention.ms=%r' % cfg.get('retention.ms'))

    fs = admin.alter_configs([ConfigResource('topic', topic, set_config={'retention.ms': 'soon'})], request_timeout=30)
    e = None
    for _, f in fs.items():
        e = future_error(f)
    s.check('alter_configs bad value -> INVALID_CONFIG', e == 'INVALID_CONFIG', 'got %s' % e)

    if hasattr(admin, 'incremental_alter_configs'):
        s.info('incremental_alter_configs', 'available but not exercised by this script version')
    else:
        s.info('incremental_alter_configs', 'not available in confluent-kafka-python %s (added in 2.2)' % __import__('confluent_kafka').version()[0])

    # offsets by timestamp: 5 records with known timestamps in partition 0
    base = int(time.time() * 1000) - 600000
    p = Producer(dict(common_conf(args), **{'acks': 'all', 'linger.ms': 0}))
    for i in range(5):
        p.produce(topic, value=b'ts-%d' % i, key=None, partition=0, timestamp=base + i * 1000)
    left = p.flush(30)
    s.check('produce 5 timestamped records', left == 0, 'undelivered=%d' % left)
    c = Consumer(dict(common_conf(args), **{'group.id': 'fjord-interop-unused', 'enable.auto.commit': False}))
    for ts, want in ((base + 1500, 2), (base, 0), (base - 1, 0), (base + 4000, 4), (base + 99999, -1)):
        res = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=20)
        s.check('offsets_for_times(base%+d) -> %d' % (ts - base, want), res[0].offset == want and res[0].error is None,
                'got offset=%s error=%s' % (res[0].offset, res[0].error))
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=20)
    s.check('watermarks of partition 0 are (0, 5)', (lo, hi) == (0, 5), 'got (%s, %s)' % (lo, hi))

    if hasattr(admin, 'delete_records'):
        s.info('delete_records', 'available but not exercised by this script version')
    else:
        s.info('delete_records', 'not available in confluent-kafka-python %s (added in 2.4)' % __import__('confluent_kafka').version()[0])
    c.close()

    # delete topics
    fs = admin.delete_topics([topic], operation_timeout=30, request_timeout=30)
    e = future_error(fs[topic])
    s.check('delete_topics', e is None, 'error=%s' % e)
    gone = False
    for _ in range(20):
        md = admin.list_topics(timeout=20)
        if topic not in md.topics:
            gone = True
            break
        time.sleep(0.25)
    s.check('deleted topic is gone from metadata', gone)
    fs = admin.delete_topics([args.prefix + '-never-existed'], request_timeout=30)
    e = future_error(fs[args.prefix + '-never-existed'])
    s.check('delete unknown topic -> UNKNOWN_TOPIC_OR_PART', e == 'UNKNOWN_TOPIC_OR_PART', 'got %s' % e)

    emit({'summary': True, 'failed': s.failed})
    sys.exit(1 if s.failed else 0)


def cmd_create_topic(args):
    admin = AdminClient(common_conf(args))
    config = dict(kv.split('=', 1) for kv in args.config)
    fs = admin.create_topics([NewTopic(args.topic, num_partitions=args.partitions, replication_factor=1, config=config)],
                             operation_timeout=30, request_timeout=30)
    e = future_error(fs[args.topic])
    emit({'summary': True, 'error': e})
    if e is not None:
        sys.exit(1)
    # wait until the topic shows up with all partitions (leaders elected)
    deadline = time.time() + 20
    while time.time() < deadline:
        if partition_count(admin, args.topic) == args.partitions:
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
    pp.add_argument('--ack-log', action='store_true')
    pp.add_argument('--message-timeout-ms', type=int, default=60000)
    pp.add_argument('--flush-timeout', type=float, default=90)
    pp.add_argument('--idempotent', action='store_true')
    pp.add_argument('--pause-every', type=int, default=0)
    pp.add_argument('--pause-ms', type=int, default=0)
    cp = sub.add_parser('consume')
    cp.add_argument('--bootstrap', required=True)
    cp.add_argument('--topic', required=True)
    cp.add_argument('--output', required=True)
    cp.add_argument('--partitions', default='')
    cp.add_argument('--timeout', type=float, default=90)
    ap_ = sub.add_parser('admin')
    ap_.add_argument('--bootstrap', required=True)
    ap_.add_argument('--prefix', required=True)
    op = sub.add_parser('offsets-for-times')
    op.add_argument('--bootstrap', required=True)
    op.add_argument('--topic', required=True)
    op.add_argument('--partition', type=int, required=True)
    op.add_argument('--timestamp', type=int, required=True)
    ct = sub.add_parser('create-topic')
    ct.add_argument('--bootstrap', required=True)
    ct.add_argument('--topic', required=True)
    ct.add_argument('--partitions', type=int, default=4)
    ct.add_argument('--config', action='append', default=[])
    args = ap.parse_args()
    {'produce': cmd_produce, 'consume': cmd_consume, 'admin': cmd_admin, 'offsets-for-times': cmd_offsets_for_times,
     'create-topic': cmd_create_topic}[args.cmd](args)


if __name__ == '__main__':
    main()
