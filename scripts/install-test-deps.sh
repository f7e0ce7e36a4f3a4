#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine: the real Kafka clients the
# interop tests drive (kcat, confluent-kafka-python, kafka-python with its codecs), ZooKeeper for
# the controller's ZooKeeper backend (run by scripts/zookeeper.sh, no service) and the npm
# packages. Needs root or sudo for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(kcat python3-confluent-kafka python3-kafka python3-snappy python3-lz4 python3-zstandard zookeeper)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y "${DEBIAN_PACKAGES[@]}"

npm ci
