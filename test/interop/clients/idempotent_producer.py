"""An idempotent confluent-kafka-python producer (enable.idempotence=true, acks=all) that writes
values b'<prefix>-<n>' for n in 0..count-1 to partition n % partitions, optionally paced, and
flushes. Connections may be cut under it: retries must handle that. Every delivery report must be
a success; a fatal error (librdkafka gives up on idempotence) fails the run.

argv: bootstrap topic count prefix partitions [records_per_second]
Prints one JSON line: {"delivered", "errors", "fatal", "retries", "connects", "disconnects", ...}.
"""
import json
import sys
import time
from confluent_kafka import KafkaError, Producer

from interop_common import emit, log

bootstrap, topic, count, prefix, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
rate = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0

state = {'delivered': 0, 'errors': 0, 'first_errors': [], 'fatal': None, 'client_errors': 0, 'stats': None}


def on_delivery(err, msg):
    if err is not None:
        state['errors'] += 1
        if len(state['first_errors']) < 10:
            state['first_errors'].append('%s: %s' % (msg.value(), err))
    else:
        state['delivered'] += 1


def on_error(err):
    state['client_errors'] += 1
    if err.fatal():
        state['fatal'] = str(err)
        log('FATAL %s' % err)


def on_stats(raw):
    state['stats'] = raw


p = Producer({
    'bootstrap.servers': bootstrap,
    'enable.idempotence': True,
    'acks': 'all',
    'max.in.flight.requests.per.connection': 5,
    'linger.ms': 5,
    'batch.num.messages': 2000,
    'message.timeout.ms': 150000,
    'reconnect.backoff.ms': 20,
    'reconnect.backoff.max.ms': 500,
    'retry.backoff.ms': 50,
    'socket.connection.setup.timeout.ms': 5000,
    'statistics.interval.ms': 500,
    'error_cb': on_error,
    'stats_cb': on_stats,
    'log_level': 4,
})

started = time.time()
for n in range(count):
    if state['fatal']:
        break
    value = ('%s-%d' % (prefix, n)).encode()
    while True:
        try:
            p.produce(topic, value=value, partition=n % partitions, on_delivery=on_delivery)
            break
        except BufferError:
            p.poll(0.05)
    if n % 500 == 499:
        p.poll(0)
        if rate > 0:
            ahead = (n + 1) / rate - (time.time() - started)
            if ahead > 0:
                time.sleep(ahead)

left = p.flush(150)
while left > 0 and not state['fatal'] and time.time() - started < 170:
    left = p.flush(5)
p.poll(0.6)  # one more statistics callback

summary = {'delivered': state['delivered'], 'errors': state['errors'], 'first_errors': state['first_errors'],
           'fatal': state['fatal'], 'client_errors': state['client_errors'], 'unflushed': left,
           'seconds': round(time.time() - started, 2)}
if state['stats']:
    s = json.loads(state['stats'])
    brokers = [b for b in s.get('brokers', {}).values() if b.get('nodeid', -1) >= 0 or b.get('name', '').find('bootstrap') >= 0]
    summary['retries'] = sum(b.get('txretries', 0) for b in brokers)
    summary['connects'] = sum(b.get('connects', 0) for b in brokers)
    summary['disconnects'] = sum(b.get('disconnects', 0) for b in brokers)
    summary['req_timeouts'] = sum(b.get('req_timeouts', 0) for b in brokers)
    summary['tx_requests'] = sum(b.get('tx', 0) for b in brokers)
    summary['eos'] = s.get('eos')
emit(summary)
sys.exit(0 if state['fatal'] is None and state['errors'] == 0 and left == 0 and state['delivered'] == count else 1)
