/**
 * kafka-python 2.0.2 (Debian python3-kafka) against Fjord.
 * Driver script: test/interop/clients/kafka_python_client.py. Codecs come from python3-snappy,
 * python3-lz4 and python3-zstandard (CI installs them), so all five are tested.
 */
import { definePythonClientSuite } from '../helpers/python-suite.js';

definePythonClientSuite('kafka-python', ['none', 'gzip', 'snappy', 'lz4', 'zstd']);
