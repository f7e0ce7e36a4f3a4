"""Reads one partition from the start with client.rack set and librdkafka's fetch debug on.

Prints one JSON line: the values read and librdkafka's 'preferred replica' migration lines,
which show which broker it fetched from (KIP-392)."""
import argparse, json, sys, time
from confluent_kafka import Consumer, TopicPartition

ap = argparse.ArgumentParser()
ap.add_argument('--bootstrap', required=True)
ap.add_argument('--topic', required=True)
ap.add_argument('--rack', required=True)
ap.add_argument('--count', type=int, required=True)
ap.add_argument('--timeout', type=float, default=60)
a = ap.parse_args()

migrations = []

# librdkafka's debug lines arrive through Python logging
import logging
logger = logging.getLogger('rdkafka')
logger.setLevel(logging.DEBUG)
class H(logging.Handler):
    def emit(self, record):
        text = record.getMessage()
        if 'preferred replica' in text: migrations.append(text)
logger.addHandler(H())

c = Consumer({'bootstrap.servers': a.bootstrap, 'group.id': 'rack-reader', 'client.rack': a.rack,
              'debug': 'fetch,topic', 'enable.auto.commit': False}, logger=logger)
c.assign([TopicPartition(a.topic, 0, 0)])
values = []
deadline = time.time() + a.timeout
while len(values) < a.count and time.time() < deadline:
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    values.append(m.value().decode())
c.poll(0.5)
c.close()
print(json.dumps({'values': values, 'migrations': migrations}))
