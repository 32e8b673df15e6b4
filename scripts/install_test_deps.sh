#!/usr/bin/env bash
# Installs what the tests need: the Python packages, and Debian's Chromium for
# the real-browser test where apt-get is available (Playwright cannot download
# its own browser on these machines).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements-dev.txt
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  $sudo_ apt-get install -y -q chromium >/dev/null 2>&1 \
    || { $sudo_ apt-get update -q >/dev/null 2>&1 && $sudo_ apt-get install -y -q chromium >/dev/null 2>&1; } \
    || echo "chromium could not be installed: the browser test will be skipped" >&2
fi
