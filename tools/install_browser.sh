#!/usr/bin/env bash
# Install Debian's Chromium for the browser test (tests/test_browser.py) when it is missing.
# Playwright (from requirements.txt) drives this system Chromium; no browser is downloaded
# by Playwright itself (never run `playwright install`).
# Needs root (CI runs as root); prints what it did and exits non-zero only if the install fails.
set -euo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

if [ -x "$CHROMIUM" ]; then
    echo "install_browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) already installed at $CHROMIUM"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "install_browser: $CHROMIUM is missing and this is not root; install Debian's 'chromium' package" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "install_browser: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium) at $CHROMIUM"
