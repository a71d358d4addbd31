#!/usr/bin/env bash
# Install Debian's bubblewrap (`bwrap`), the sandbox every grading kernel runs in
# (grader/sandbox/, docs/sandbox.md), when it is missing.
# Needs root to install (CI runs as root); as another user it says what to ask for and exits 1.
set -euo pipefail

if command -v bwrap >/dev/null 2>&1; then
    echo "install_sandbox: $(bwrap --version) already installed at $(command -v bwrap)"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "install_sandbox: bwrap is missing and this is not root; install Debian's 'bubblewrap' package" \
         "(sudo apt-get install bubblewrap), or grade without isolation with COURSE_SANDBOX=limits" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null
}
echo "install_sandbox: installed $(bwrap --version) at $(command -v bwrap)"
