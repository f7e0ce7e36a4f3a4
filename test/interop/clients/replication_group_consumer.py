#!/usr/bin/python3
"""A consumer-group member with confluent-kafka-python (librdkafka 2.0.2) for the replication
fault tests (test/interop/replication-rolling.test.ts): subscribes to one topic (classic
protocol), reads from the earliest offset, commits automatically every second, and reports every
record and every error as it happens, until stdin says "stop" or reaches EOF (then close():
commit and LeaveGroup).

  replication_group_consumer.py --bootstrap B --group G --topic T

Lines on stdout:
  R <partition> <offset> <value>
  E <error-name> <retriable 0|1> <fatal 0|1> <source> <text>   (source: msg | error_cb | commit)
  G assign|revoke|lost <partition,partition,...>
  S {json}    the summary, last
"""
import argparse
import json
import sys
import threading
import time

from confluent_kafka import Consumer

ap = argparse.ArgumentParser()
ap.add_argument('--bootstrap', required=True)
ap.add_argument('--group', required=True)
ap.add_argument('--topic', required=True)
args = ap.parse_args()

lock = threading.Lock()
state = {'records': 0, 'errors': 0, 'rebalances': 0}


def write(line):
    with lock:
        sys.stdout.write(line + '\n')
        sys.stdout.flush()


def report(err, source):
    state['errors'] += 1
    write('E %s %d %d %s %s' % (err.name(), 1 if err.retriable() else 0, 1 if err.fatal() else 0, source, err.str().replace('\n', ' ')))


def on_error(err):
    report(err, 'error_cb')


def on_commit(err, partitions):
    if err is not None:
        report(err, 'commit')


stop = threading.Event()


def watch_stdin():
    for line in sys.stdin:
        if line.strip() == 'stop':
            break
    stop.set()


threading.Thread(target=watch_stdin, daemon=True).start()

c = Consumer({
    'bootstrap.servers': args.bootstrap,
    'broker.address.family': 'v4',
    'group.id': args.group,
    'client.id': 'replication-group-consumer',
    'auto.offset.reset': 'earliest',
    'enable.auto.commit': True,
    'auto.commit.interval.ms': 1000,
    'session.timeout.ms': 10000,
    'heartbeat.interval.ms': 1000,
    'fetch.wait.max.ms': 200,
    'topic.metadata.refresh.interval.ms': 5000,
    'reconnect.backoff.ms': 50,
    'reconnect.backoff.max.ms': 1000,
    'socket.connection.setup.timeout.ms': 5000,
    'error_cb': on_error,
    'on_commit': on_commit,
    'log_level': 3,
})


def parts(ps):
    return ','.join(str(tp.partition) for tp in sorted(ps, key=lambda tp: tp.partition))


def on_assign(consumer, ps):
    state['rebalances'] += 1
    write('G assign %s' % parts(ps))


def on_revoke(consumer, ps):
    write('G revoke %s' % parts(ps))


def on_lost(consumer, ps):
    write('G lost %s' % parts(ps))


c.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
started = time.time()
while not stop.is_set():
    m = c.poll(0.2)
    if m is None:
        continue
    if m.error():
        report(m.error(), 'msg')
        continue
    state['records'] += 1
    write('R %d %d %s' % (m.partition(), m.offset(), m.value().decode()))
c.close()
state['seconds'] = round(time.time() - started, 2)
write('S ' + json.dumps(state))
