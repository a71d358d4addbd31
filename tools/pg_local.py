"""A throw-away PostgreSQL server for the tests and `make demo DB=postgres` (Debian's binaries).

    python tools/pg_local.py run [--state DIR] [--fresh] -- COMMAND...   # server up, COMMAND with its URL
    python tools/pg_local.py stop [--state DIR]

`run` starts the server recorded in DIR (default `.postgres/`) or a new one, creates the
database `gradebook` (`--fresh`: drops it first), and runs COMMAND with NBGRADER_DB_URL set to a
URL without a password and PGPASSFILE pointing at DIR/pgpass (mode 600): libpq reads the password
from there, so it is in no URL, command line, log or status file. The server keeps running for
the next `run`; `stop` ends it.

The server's files live in a fresh folder under /tmp, not in the course: PostgreSQL refuses to run
as root, so as root it runs as `nobody` (through `runuser`), which must be able to reach its data
folder; a checkout under /root is not reachable. It listens on 127.0.0.1 only, on a free port, and
asks every client for the password (SCRAM).
"""
import argparse
import glob
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

USER = "grader"           # the server's only role: owner of every gradebook database
UNPRIVILEGED = "nobody"   # who runs the server when we are root


def binaries() -> Path | None:
    """The newest Debian server's bin/ (tools/install_postgres.sh installs it), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _as_server_user(command):
    """`command` as the user the server runs as (PostgreSQL will not run as root)."""
    return ["runuser", "-u", UNPRIVILEGED, "--", *command] if os.geteuid() == 0 else list(command)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _give_to_server_user(path):
    if os.geteuid() == 0:
        shutil.chown(path, UNPRIVILEGED, "nogroup" if _group_exists("nogroup") else UNPRIVILEGED)


def _group_exists(name):
    import grp
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


class Server:
    """One PostgreSQL server: its folder, port and password. No URL here ever holds the password."""

    def __init__(self, folder, port, password):
        self.folder, self.port, self.password = Path(folder), int(port), password
        self.data, self.log = self.folder / "data", self.folder / "server.log"

    @classmethod
    def create(cls):
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: "
                               "run tools/install_postgres.sh as root (Debian's postgresql package)")
        folder = Path(tempfile.mkdtemp(prefix="course-pg-"))
        _give_to_server_user(folder)
        server = cls(folder, _free_port(), secrets.token_urlsafe(18))
        pwfile = folder / "initdb-password"
        pwfile.write_text(server.password + "\n")
        os.chmod(pwfile, 0o600)
        _give_to_server_user(pwfile)
        try:
            server._run("initdb", "-D", str(server.data), "-U", USER, f"--pwfile={pwfile}",
                        "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            pwfile.unlink(missing_ok=True)
        return server

    def _run(self, program, *args, check=True):
        command = _as_server_user([str(binaries() / program), *args])
        run = subprocess.run(command, cwd=self.folder, capture_output=True, text=True,
                             env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
        if check and run.returncode != 0:
            raise RuntimeError(f"{program} failed ({run.returncode}): {run.stdout}{run.stderr}")
        return run

    def start(self, extra=""):
        # fsync off: a test server that loses its data in a power cut loses nothing of value.
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 {extra}")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def running(self) -> bool:
        return self.data.is_dir() and self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def remove(self):
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database) -> str:
        """The SQLAlchemy URL of `database`: user, host and port, never the password."""
        return f"postgresql+psycopg2://{USER}@127.0.0.1:{self.port}/{database}"

    def pgpass_line(self) -> str:
        return f"127.0.0.1:{self.port}:*:{USER}:{self.password}\n"

    def admin(self, sql, database="postgres"):
        """Run one statement outside a transaction (CREATE / DROP DATABASE)."""
        import psycopg2
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=USER, password=self.password,
                                      dbname=database, connect_timeout=10)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall() if cursor.description else None
        finally:
            connection.close()

    def create_database(self, name, fresh=False):
        if fresh:
            self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not self.admin(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
            self.admin(f'CREATE DATABASE "{name}" OWNER {USER}')
        return self.url(name)


def write_pgpass(path, server):
    """A libpq password file (mode 600, or libpq ignores it) holding this server's line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    os.chmod(path, 0o600)
    path.write_text(server.pgpass_line())
    return path


def load(state: Path) -> Server | None:
    """The server `state`/server.json describes, if its files are still there."""
    meta = state / "server.json"
    if not meta.exists():
        return None
    info = json.loads(meta.read_text())
    password = (state / "pgpass").read_text().strip().rsplit(":", 1)[1]
    server = Server(info["folder"], info["port"], password)
    return server if server.data.is_dir() else None


def load_or_start(state: Path) -> Server:
    """That server, started if it is down; a new one if it is gone."""
    server = load(state)
    if server is not None:
        if not server.running():
            server.start()
        return server
    state.mkdir(parents=True, exist_ok=True)
    server = Server.create()
    server.start()
    write_pgpass(state / "pgpass", server)
    (state / "server.json").write_text(json.dumps({"folder": str(server.folder), "port": server.port}))
    return server


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["run", "stop"])
    parser.add_argument("--state", default=".postgres", help="where the server's port and password file are kept")
    parser.add_argument("--database", default="gradebook")
    parser.add_argument("--fresh", action="store_true", help="drop the database first")
    argv = sys.argv[1:] if argv is None else list(argv)
    split = argv.index("--") if "--" in argv else len(argv)
    options, command = parser.parse_args(argv[:split]), argv[split + 1:]
    state = Path(options.state).resolve()
    if options.action == "stop":
        server = load(state)
        if server is not None:
            server.remove()
            print("pg_local: server stopped and removed")
        shutil.rmtree(state, ignore_errors=True)
        return 0
    server = load_or_start(state)
    url = server.create_database(options.database, fresh=options.fresh)
    print(f"pg_local: {url} (password in {state / 'pgpass'})", flush=True)
    if not command:
        return 0
    env = dict(os.environ, NBGRADER_DB_URL=url, PGPASSFILE=str(state / "pgpass"))
    return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
