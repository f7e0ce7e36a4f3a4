#!/usr/bin/python3
"""Produces a few records with confluent-kafka-python (librdkafka 2.0.2) and reports each one's
fate, for the replication fault tests (test/interop/replication-*.test.ts).

  replication_produce_once.py --bootstrap B --topic T --prefix P --count N
      [--acks all|1|0] [--retries 0] [--message-timeout-ms 10000] [--partitions 0]

Values are b'<prefix>-<n>'; with --partitions K value n goes to partition n % K, otherwise to
librdkafka's default partitioner. Not idempotent (so that --retries 0 is allowed): a broker
error such as NOT_ENOUGH_REPLICAS reaches the delivery report instead of being retried.

Prints one JSON line per delivery report:
  {"v": value, "p": partition, "o": offset, "err": null | error name, "retriable": bool}
then {"summary": {"delivered": .., "failed": .., "errors": {name: count}}}.
Exit code 0 whatever the outcome (the test judges the reports).
"""
import argparse
import json
import sys

from confluent_kafka import Producer

ap = argparse.ArgumentParser()
ap.add_argument('--bootstrap', required=True)
ap.add_argument('--topic', required=True)
ap.add_argument('--prefix', required=True)
ap.add_argument('--count', type=int, required=True)
ap.add_argument('--acks', default='all')
ap.add_argument('--retries', type=int, default=0)
ap.add_argument('--message-timeout-ms', type=int, default=10000)
ap.add_argument('--partitions', type=int, default=0)
args = ap.parse_args()

summary = {'delivered': 0, 'failed': 0, 'errors': {}, 'client_errors': []}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def on_delivery(err, msg):
    if err is None:
        summary['delivered'] += 1
        emit({'v': msg.value().decode(), 'p': msg.partition(), 'o': msg.offset(), 'err': None, 'retriable': False})
    else:
        summary['failed'] += 1
        summary['errors'][err.name()] = summary['errors'].get(err.name(), 0) + 1
        emit({'v': msg.value().decode(), 'p': msg.partition(), 'o': -1, 'err': err.name(), 'retriable': err.retriable(), 'text': err.str()})


def on_error(err):
    if len(summary['client_errors']) < 20:
        summary['client_errors'].append('%s: %s' % (err.name(), err.str()))


p = Producer({
    'bootstrap.servers': args.bootstrap,
    'broker.address.family': 'v4',
    'acks': args.acks,
    'enable.idempotence': False,
    'retries': args.retries,
    'message.timeout.ms': args.message_timeout_ms,
    'request.timeout.ms': min(args.message_timeout_ms, 30000),
    'linger.ms': 5,
    'socket.connection.setup.timeout.ms': 5000,
    'error_cb': on_error,
    'log_level': 3,
})
for n in range(args.count):
    kw = {'partition': n % args.partitions} if args.partitions > 0 else {}
    p.produce(args.topic, value=('%s-%d' % (args.prefix, n)).encode(), on_delivery=on_delivery, **kw)
    p.poll(0)
left = p.flush(args.message_timeout_ms / 1000.0 + 15)
summary['unflushed'] = left
emit({'summary': summary})
