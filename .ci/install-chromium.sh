#!/usr/bin/env bash
# Debian's chromium + chromium-driver for the browser tests (tests/api/test_billing_page.py).
# Idempotent: does nothing when both are installed. Needs root (CI runs as root); without
# them the browser tests skip, saying why.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
