#!/usr/bin/python3
"""A steady-rate confluent-kafka-python (librdkafka 2.0.2) producer for the network partition test
(test/interop/replication-partition.test.ts): replication_producer.py with a client id (the fault
proxy tells the sides of a partition apart by it), a value prefix (two producers on one topic),
a fixed partition, and the request timeout.

  fault_producer.py --bootstrap B --topic T --prefix P --client-id ID [--rate 500]
      [--partitions N | --partition P] [--acks all] [--idempotence 1]
      [--message-timeout-ms 300000] [--request-timeout-ms 30000] [--socket-timeout-ms 60000]
      [--max-in-flight 5]

Writes the values P0, P1, P2, ... at `rate` records/s until stdin says "stop" or reaches EOF, then
flushes. With --partitions N value n goes to partition n % N; with --partition P all go to P.

One line per event on stdout, written as the event happens:
  A <partition> <offset> <value> <ms>          a delivery report: acknowledged (ms: time.time());
                                               offset -1: acknowledged implicitly, offset unknown
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

from confluent_kafka import KafkaException, Producer

ap = argparse.ArgumentParser()
ap.add_argument('--bootstrap', required=True)
ap.add_argument('--topic', required=True)
ap.add_argument('--prefix', required=True)
ap.add_argument('--client-id', required=True)
ap.add_argument('--rate', type=float, default=500.0)
ap.add_argument('--partitions', type=int, default=0)
ap.add_argument('--partition', type=int, default=-1)
ap.add_argument('--acks', default='all')
ap.add_argument('--idempotence', type=int, default=1)
ap.add_argument('--message-timeout-ms', type=int, default=300000)
ap.add_argument('--request-timeout-ms', type=int, default=30000)
ap.add_argument('--socket-timeout-ms', type=int, default=60000)
ap.add_argument('--max-in-flight', type=int, default=5)
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
        # librdkafka acknowledges a record implicitly (no offset) when it had no answer for its
        # request but a later record of the partition was acknowledged: offset -1 then.
        offset = msg.offset()
        write('A %d %d %s %d' % (msg.partition(), -1 if offset is None else offset, msg.value().decode(), now_ms()))
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


def watch_stdin():
    for line in sys.stdin:
        if line.strip() == 'stop':
            break
    stop.set()


threading.Thread(target=watch_stdin, daemon=True).start()

conf = {
    'bootstrap.servers': args.bootstrap,
    'client.id': args.client_id,
    'broker.address.family': 'v4',
    'acks': args.acks,
    'enable.idempotence': bool(args.idempotence),
    'linger.ms': 5,
    'message.timeout.ms': args.message_timeout_ms,
    'request.timeout.ms': args.request_timeout_ms,
    'socket.timeout.ms': args.socket_timeout_ms,
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
    conf['max.in.flight.requests.per.connection'] = args.max_in_flight
p = Producer(conf)

started = time.time()
n = 0
last_progress = started
while not state['fatal'] and not stop.is_set():
    due = int((time.time() - started) * args.rate) + 1
    while n < due:
        if args.partition >= 0:
            kw = {'partition': args.partition}
        elif args.partitions > 0:
            kw = {'partition': n % args.partitions}
        else:
            kw = {}
        try:
            p.produce(args.topic, value=('%s%d' % (args.prefix, n)).encode(), on_delivery=on_delivery, **kw)
        except BufferError:
            p.poll(0.05)
            continue
        except KafkaException as e:
            # a fatal error (raised here before error_cb has run): stop producing, report it
            state['fatal'] = '%s: %s' % (e.args[0].name(), e.args[0].str())
            break
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
