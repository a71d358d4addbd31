#!/usr/bin/env bash
# Install what the multi-machine tests need (tests/test_shards_postgres.py, docs/scaling.md) when
# it is missing: Debian's PostgreSQL server (initdb, pg_ctl, postgres) and GNU parallel, which
# dispatches the shards.
# Debian's packages rather than a server from PyPI: they are what a department's database host
# runs, they are security-updated by apt, and the same binaries serve the tests and `make demo
# DB=postgres`. Needs root to install (CI runs as root); as another user it says what to ask for
# and exits 1 (the tests then skip, naming this script).
set -euo pipefail

server_present() { compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; }

missing=()
server_present || missing+=(postgresql)
command -v parallel >/dev/null 2>&1 || missing+=(parallel)
if [ ${#missing[@]} = 0 ]; then
    echo "install_postgres: $(ls -d /usr/lib/postgresql/*/bin | tail -1) and $(parallel --version | head -1) already installed"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "install_postgres: missing ${missing[*]} and this is not root;" \
         "ask for Debian's packages: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi

# The course starts its own throw-away servers (tools/pg_local.py): no system-wide cluster that
# would start at boot and hold port 5432.
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
fi
export DEBIAN_FRONTEND=noninteractive
# --force-confold: keep that file when the package brings its own.
install=(apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef
         -o Dpkg::Options::=--force-confold "${missing[@]}")
"${install[@]}" >/dev/null 2>&1 || { apt-get update -qq; "${install[@]}" >/dev/null; }
server_present || { echo "install_postgres: installed ${missing[*]} but no /usr/lib/postgresql/*/bin/pg_ctl" >&2; exit 1; }
echo "install_postgres: installed ${missing[*]}"
