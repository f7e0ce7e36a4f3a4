#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine: the real Kafka clients the
# interop tests drive (kcat, confluent-kafka-python, kafka-python with its codecs), the AWS CLI v2
# (/usr/bin/aws) for the control plane's MSK API, ZooKeeper for the controller's ZooKeeper backend
# and the control plane's ZooKeeper-mode clusters (run as plain processes, no service) and the npm
# packages. Needs root or sudo for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(kcat python3-confluent-kafka python3-kafka python3-snappy python3-lz4 python3-zstandard awscli zookeeper)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y "${DEBIAN_PACKAGES[@]}"

npm ci
