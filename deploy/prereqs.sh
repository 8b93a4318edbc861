#!/usr/bin/env bash
# Checks what `make` needs before it builds .venv; each missing piece is one line naming what
# to install. Usage: deploy/prereqs.sh PYTHON [--services]  (--services: Java 17+ and Maven too)
set -u
python=${1:-python3}
missing=0
say() { echo "botbill: $*" >&2; missing=1; }
docker_hint="or, with Docker: docker compose -f docker-compose.kafka.yml up -d --build"

if ! command -v "$python" >/dev/null 2>&1; then
  say "no '$python' found: install Python 3.11+ (Debian/Ubuntu: apt-get install python3 python3-venv), or run make PYTHON=/path/to/python3.11"
elif ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "$("$python" -V 2>&1) is too old: install Python 3.11+ and run make PYTHON=python3.11"
elif ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  say "$python has no working 'venv' module: apt-get install python3-venv (or python3.11-venv)"
fi
if [ "${2:-}" = "--services" ]; then
  if ! command -v java >/dev/null 2>&1; then
    say "no 'java' found: install Java 17+ (apt-get install openjdk-17-jre-headless) for the local Kafka, $docker_hint"
  else
    major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
    if [ -z "$major" ] || [ "$major" -lt 17 ]; then
      say "java ${major:-?} is too old: install Java 17+ (apt-get install openjdk-17-jre-headless), $docker_hint"
    fi
  fi
  command -v mvn >/dev/null 2>&1 || say "no 'mvn' found: install Maven (apt-get install maven) to fetch Kafka, $docker_hint"
fi
exit $missing
