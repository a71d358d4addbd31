"""What the gradebook costs: one class graded by the driver with SQLite, then with PostgreSQL.

    python tools/gradebook_load.py [--students 12] [--jobs N]      (make gradebook-load)

Builds the bench's simulated class (tools/bench.py: reference, wrong, blank and broken
submissions of every notebook in source/), grades it with `python -m grader.driver.autograde
--force` against the SQLite file and against a fresh PostgreSQL database on a local server
(tools/pg_local.py, with pg_stat_statements), checks that both give every cell the same score,
and prints the wall time of each and, for PostgreSQL, the statements, transactions and sessions
per student and the server's time executing them. Figures go to bench/gradebook_load.json.
The server runs on this machine: its CPU competes with the grading (docs/scaling.md says what
that means for a remote one).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import bench  # noqa: E402
import pg_local  # noqa: E402

ASSIGNMENT = "tutorial08"


def grade(root, env, jobs):
    """Wall seconds of one forced run of the driver over the whole class."""
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "grader.driver.autograde", ASSIGNMENT, "--force", "--no-progress",
                          "--jobs", str(jobs)], cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if run.returncode not in (0, 1):  # 1: the broken submissions failed, as they should
        raise SystemExit(run.stdout[-3000:] + run.stderr[-3000:])
    return wall


def scores_with(root, env):
    code = ("import json, sys; from grader.reports.gradebook import scores; "
            f"json.dump(scores('.', '{ASSIGNMENT}'), sys.stdout)")
    run = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def server_cpu(server):
    """CPU seconds of the whole server: the postmaster and every backend it has reaped (each
    connection is a process that exits when the connection closes)."""
    pid = (server.data / "postmaster.pid").read_text().split()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def connect_cost(server, database, count=100):
    """(client wall, server CPU) seconds per new connection with the password (SCRAM): nbgrader
    opens a new engine, and so a new connection, for each gradebook it opens."""
    import psycopg2
    cpu, started = server_cpu(server), time.perf_counter()
    for _ in range(count):
        psycopg2.connect(host="127.0.0.1", port=server.port, user=pg_local.USER, password=server.password,
                         dbname=database).close()
    wall = time.perf_counter() - started
    time.sleep(0.5)  # the last backends exit and are reaped
    return wall / count, (server_cpu(server) - cpu) / count


def top_statements(server, database, count=8):
    """The statements run most often, with their calls: where the gradebook's traffic comes from."""
    rows = server.admin("SELECT calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_statements s "
                        f"JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '{database}' "
                        f"ORDER BY calls DESC LIMIT {count}", database)
    return [[int(calls), text] for calls, text in rows]


def server_counts(server, database):
    """Statements, their execution time, transactions and sessions of `database` since the reset."""
    statements = server.admin("SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) "
                              "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
                              f"WHERE d.datname = '{database}'", database)[0]
    database_row = server.admin("SELECT xact_commit + xact_rollback, sessions, active_time "
                                f"FROM pg_stat_database WHERE datname = '{database}'")[0]
    return {"statements": int(statements[0]), "statement_ms": float(statements[1]),
            "transactions": int(database_row[0]), "sessions": int(database_row[1]),
            "active_ms": float(database_row[2])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", "-n", type=int, default=int(os.environ.get("N", 12)))
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", 1)),
                        help="runs of each, alternating (SQLite, PostgreSQL, PostgreSQL, SQLite, ...)")
    parser.add_argument("--out", default=str(REPO / "bench" / "gradebook_load.json"))
    options = parser.parse_args(argv)
    env = bench.clean_env()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="gradebook-load-") as tmp:
        root = Path(tmp) / "course"
        roster, notebooks = bench.build_class(root, ASSIGNMENT, options.students)
        walls = {"sqlite": [], "postgres": []}
        walls["sqlite"].append(grade(root, env, options.jobs))
        sqlite_scores = scores_with(root, env)

        server = pg_local.Server.create()
        try:
            server.start(extra="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all")
            url = server.create_database("gradebook")
            server.admin("CREATE EXTENSION pg_stat_statements", "gradebook")
            pg_env = dict(env, NBGRADER_DB_URL=url,
                          PGPASSFILE=str(pg_local.write_pgpass(Path(tmp) / "pgpass", server)))
            subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
                           cwd=root, env=pg_env, capture_output=True, check=True)
            bench.reset_grades(root)
            server.admin("SELECT pg_stat_statements_reset()", "gradebook")
            server.admin("SELECT pg_stat_reset()", "gradebook")
            cpu = server_cpu(server)
            walls["postgres"].append(grade(root, pg_env, options.jobs))
            counts = dict(server_counts(server, "gradebook"), server_cpu_s=server_cpu(server) - cpu)
            top = top_statements(server, "gradebook")
            pg_scores = scores_with(root, pg_env)
            connect_wall, connect_cpu = connect_cost(server, "gradebook")
            for run in range(1, options.runs):  # alternate, so that other load on the machine hits both
                order = ("postgres", "sqlite") if run % 2 else ("sqlite", "postgres")
                for kind in order:
                    walls[kind].append(grade(root, pg_env if kind == "postgres" else env, options.jobs))
        finally:
            server.remove()
    n = options.students
    result = {"students": n, "notebooks_per_student": len(notebooks), "jobs": options.jobs,
              "sqlite_wall_s": [round(w, 1) for w in walls["sqlite"]],
              "postgres_wall_s": [round(w, 1) for w in walls["postgres"]],
              "same_scores": sqlite_scores == pg_scores,
              "per_student": {key: round(value / n, 2) for key, value in counts.items()},
              "ms_per_statement": round(counts["statement_ms"] / max(1, counts["statements"]), 3),
              "connect_ms": round(connect_wall * 1000, 2), "connect_server_cpu_ms": round(connect_cpu * 1000, 2),
              "load_average_before": load_before, "top_statements": top,
              "load_average": os.getloadavg(), "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    Path(options.out).parent.mkdir(parents=True, exist_ok=True)
    Path(options.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0 if result["same_scores"] else 1


if __name__ == "__main__":
    sys.exit(main())
