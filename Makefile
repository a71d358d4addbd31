# Tutorial 08 — Backpropagation: the one front door.
# `make demo` and `make test` work on a fresh machine with Python 3.11 and make.

ASSIGNMENT ?= tutorial08
STUDENT    ?=
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FORCE      ?=
NB         ?=
PYTHON     ?= python3.11
DB         ?= sqlite

VENV := .venv
BIN  := $(CURDIR)/$(VENV)/bin
# nbgrader runs `alembic` (and kernels run `python`) from PATH: the venv comes first.
export PATH := $(BIN):$(PATH)
PY := $(BIN)/python

STUDENT_ARG := $(if $(STUDENT),--student $(STUDENT),)
FORCE_ARG   := $(if $(FORCE),--force,)
# DB=postgres: the gradebook is the database `gradebook` on a local PostgreSQL server
# (tools/pg_local.py; its password only in .postgres/pgpass); otherwise gradebook.db (SQLite).
DB_RUN      := $(if $(filter postgres,$(DB)),$(PY) tools/pg_local.py run --,)
DB_DEPS     := $(if $(filter postgres,$(DB)),postgres,)

.PHONY: help venv lock sandbox release collect zip-collect autograde feedback grades validate demo \
        report bench grader-audit test test-quick clean repair postgres postgres-stop gradebook-load

help:
	@echo "make demo | test | release | collect | zip-collect | repair | autograde | feedback | grades |"
	@echo "     validate NB=path | report | bench | grader-audit | clean"
	@echo "variables: ASSIGNMENT=$(ASSIGNMENT) STUDENT=$(STUDENT) JOBS=$(JOBS) FORCE=$(FORCE) DB=$(DB)"

# The virtual environment, rebuilt when the pinned requirements change.
$(VENV)/.installed: requirements.txt requirements.lock pyproject.toml student/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH (or make PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c requirements.lock
	@touch $@
	@echo "venv: .venv ready ($$($(PY) -m pip freeze | wc -l) packages)"

venv: $(VENV)/.installed

# requirements.lock: every package requirements.txt needs, pinned (pip-tools); a test fails when stale.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/pip-compile || $(PY) -m pip install --quiet pip-tools==7.7.0
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links \
	    --output-file requirements.lock requirements.txt
	$(PY) tools/lockfile.py requirements.lock requirements.txt
	@echo "lock: requirements.lock pins $$(grep -c '==' requirements.lock) packages"

# The sandbox grading kernels run in: Debian's bubblewrap, installed if missing (root only).
sandbox:
	@command -v bwrap >/dev/null || tools/install_sandbox.sh

# Debian's PostgreSQL server and GNU parallel, for the shard tests and DB=postgres (root installs
# them; otherwise the shard tests skip and say why).
postgres:
	@{ command -v parallel >/dev/null && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; } || \
	    tools/install_postgres.sh || echo "postgres: not installed; tests/test_shards_postgres.py will skip"

postgres-stop: venv
	$(PY) tools/pg_local.py stop

release: venv $(DB_DEPS)
	$(DB_RUN) nbgrader generate_assignment $(ASSIGNMENT) --force
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation -w release/$(ASSIGNMENT) ./student
	nbgrader release_assignment $(ASSIGNMENT) --force
	@echo "release: student version and the check package ($$(cd release/$(ASSIGNMENT) && ls *.whl)) in release/$(ASSIGNMENT)/ and in the exchange"

collect: venv
	nbgrader collect $(ASSIGNMENT) --update $(STUDENT_ARG)
	@echo "collect: submissions copied to submitted/*/$(ASSIGNMENT)/"

# An LMS download: put the files or zips in downloaded/$(ASSIGNMENT)/archive/ (see README).
zip-collect: venv
	nbgrader zip_collect $(ASSIGNMENT) --force
	@echo "zip-collect: submissions placed in submitted/*/$(ASSIGNMENT)/"

# Damaged submissions (cells pasted twice, metadata lost, other editors) repaired into repaired/
# for a look first; autograde repairs them the same way by itself (README "Damaged submissions").
repair: venv
	$(PY) -m grader.repair $(ASSIGNMENT) $(STUDENT_ARG)

autograde: venv sandbox $(DB_DEPS)
	$(DB_RUN) $(PY) -m grader.driver.autograde $(ASSIGNMENT) --jobs $(JOBS) $(STUDENT_ARG) $(FORCE_ARG)

feedback: venv $(DB_DEPS)
	$(DB_RUN) $(PY) -m grader.reports.feedback $(ASSIGNMENT) $(STUDENT_ARG)

grades: venv $(DB_DEPS)
	$(DB_RUN) $(PY) -m grader.reports.grades $(ASSIGNMENT)

validate: venv
	@test -n "$(NB)" || { echo "usage: make validate NB=path/to/notebook.ipynb"; exit 2; }
	$(PY) -m course.validate $(NB)

demo: venv sandbox $(DB_DEPS)
	$(if $(DB_RUN),$(PY) tools/pg_local.py run --fresh --,) $(PY) tools/demo.py $(ASSIGNMENT) --jobs $(JOBS)

report: venv $(DB_DEPS)
	$(DB_RUN) $(PY) -m grader.reports.report $(ASSIGNMENT)

bench: venv sandbox
	$(PY) tools/bench.py

grader-audit: venv sandbox
	$(PY) tools/grader_audit.py

# The gradebook's cost, SQLite against PostgreSQL (docs/scaling.md); N students.
gradebook-load: venv sandbox postgres
	$(PY) tools/gradebook_load.py $(if $(N),--students $(N),) $(if $(RUNS),--runs $(RUNS),)

test: venv sandbox postgres
	$(PY) -m pytest -q --durations=15

test-quick: venv sandbox
	$(PY) -m pytest -q -m "not slow"

clean:
	rm -rf gradebook.db submitted autograded repaired feedback exchange downloaded grading_status reports demo_class
	@echo "clean: generated grading state removed (source/ and release/ kept)"
