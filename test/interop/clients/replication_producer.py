#!/usr/bin/python3
"""A steady-rate confluent-kafka-python (librdkafka 2.0.2) producer for the replication fault
tests (test/interop/replication-*.test.ts).

  replication_producer.py --bootstrap B --topic T [--rate 2000] [--duration 15]
      [--acks all] [--idempotence 1] [--message-timeout-ms 120000] [--partitions N]

Writes the values b'0', b'1', b'2', ... (unique, sequential, no key: librdkafka's default
partitioner spreads them) at `rate` records/s until `duration` seconds have passed, or (with
--duration 0) until stdin says "stop" or reaches EOF; then flushes. With --partitions N, value n
goes to partition n % N.

One line per event on stdout, written as the event happens:
  A <partition> <offset> <value> <ms>          a delivery report: acknowledged (ms: time.time())
  E <value> <error-name> <retriable 0|1> <fatal 0|1> <ms>
                                               a delivery report: failed (the record is lost)
  C <error-name> <retriable 0|1> <fatal 0|1> <ms> <text>
                                               error_cb (connection trouble, fatal errors)
  P <count> <ms>                               progress: records handed to produce() so far
  S {json}                                     the summary, last
"""
import argparse
import json
import sys
import threading
import time

from confluent_kafka import KafkaError, Producer

ap = argparse.ArgumentParser()
ap.add_argument('--bootstrap', required=True)
ap.add_argument('--topic', required=True)
ap.add_argument('--rate', type=float, default=2000.0)
ap.add_argument('--duration', type=float, default=15.0)
ap.add_argument('--acks', default='all')
ap.add_argument('--idempotence', type=int, default=1)
ap.add_argument('--message-timeout-ms', type=int, default=120000)
ap.add_argument('--partitions', type=int, default=0)
args = ap.parse_args()

out = sys.stdout
lock = threading.Lock()
state = {'acked': 0, 'failed': 0, 'client_errors': 0, 'fatal': None, 'stats': None}


def write(line):
    with lock:
        out.write(line + '\n')
        out.flush()


def now_ms():
    return int(time.time() * 1000)


def on_delivery(err, msg):
    if err is None:
        state['acked'] += 1
        # librdkafka may acknowledge a record without its offset (None): -1, checked by value
        offset = msg.offset() if msg.offset() is not None else -1
        write('A %d %d %s %d' % (msg.partition(), offset, msg.value().decode(), now_ms()))
    else:
        state['failed'] += 1
        write('E %s %s %d %d %d' % (msg.value().decode(), err.name(), 1 if err.retriable() else 0, 1 if err.fatal() else 0, now_ms()))


def on_error(err):
    state['client_errors'] += 1
    if err.fatal():
        state['fatal'] = '%s: %s' % (err.name(), err.str())
    write('C %s %d %d %d %s' % (err.name(), 1 if err.retriable() else 0, 1 if err.fatal() else 0, now_ms(), err.str().replace('\n', ' ')))


def on_stats(raw):
    state['stats'] = raw


stop = threading.Event()
if args.duration <= 0:
    def watch_stdin():
        for line in sys.stdin:
            if line.strip() == 'stop':
                break
        stop.set()
    threading.Thread(target=watch_stdin, daemon=True).start()

conf = {
    'bootstrap.servers': args.bootstrap,
    'broker.address.family': 'v4',
    'acks': args.acks,
    'enable.idempotence': bool(args.idempotence),
    'linger.ms': 5,
    'message.timeout.ms': args.message_timeout_ms,
    'retry.backoff.ms': 100,
    'reconnect.backoff.ms': 50,
    'reconnect.backoff.max.ms': 1000,
    'socket.connection.setup.timeout.ms': 5000,
    'topic.metadata.refresh.interval.ms': 5000,
    'statistics.interval.ms': 1000,
    'error_cb': on_error,
    'stats_cb': on_stats,
    'log_level': 3,
}
if args.idempotence:
    conf['max.in.flight.requests.per.connection'] = 5
p = Producer(conf)

started = time.time()
n = 0
last_progress = started
while not state['fatal']:
    elapsed = time.time() - started
    if args.duration > 0 and elapsed >= args.duration:
        break
    if stop.is_set():
        break
    due = int(elapsed * args.rate) + 1
    while n < due:
        kw = {'partition': n % args.partitions} if args.partitions > 0 else {}
        try:
            p.produce(args.topic, value=str(n).encode(), on_delivery=on_delivery, **kw)
        except BufferError:
            p.poll(0.05)
            continue
        n += 1
    p.poll(0.01)
    if time.time() - last_progress >= 1.0:
        last_progress = time.time()
        write('P %d %d' % (n, now_ms()))

write('P %d %d' % (n, now_ms()))
flush_started = time.time()
left = p.flush(args.message_timeout_ms / 1000.0 + 10)
p.poll(1.1)  # one more statistics callback

summary = {'produced': n, 'acked': state['acked'], 'failed': state['failed'], 'unflushed': left,
           'client_errors': state['client_errors'], 'fatal': state['fatal'],
           'seconds': round(time.time() - started, 2), 'flush_seconds': round(time.time() - flush_started, 2)}
if state['stats']:
    s = json.loads(state['stats'])
    brokers = list(s.get('brokers', {}).values())
    summary['retries'] = sum(b.get('txretries', 0) for b in brokers)
    summary['disconnects'] = sum(b.get('disconnects', 0) for b in brokers)
    summary['req_timeouts'] = sum(b.get('req_timeouts', 0) for b in brokers)
    summary['eos'] = s.get('eos')
write('S ' + json.dumps(summary))
sys.exit(0 if state['fatal'] is None and left == 0 else 1)
