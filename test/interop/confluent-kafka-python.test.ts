/**
 * confluent-kafka-python 1.7.0 (Debian python3-confluent-kafka, librdkafka 2.0.2) against Fjord.
 * Driver script: test/interop/clients/confluent_client.py. All five codecs are built into librdkafka.
 */
import { definePythonClientSuite } from '../helpers/python-suite.js';

definePythonClientSuite('confluent', ['none', 'gzip', 'snappy', 'lz4', 'zstd']);
