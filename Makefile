# `make run` and `make test` set everything up on a fresh machine (Python 3.11+ and make).
#
# Every install comes from uv.lock. uv itself lives in .uv/, a virtualenv of its own made
# with pip at the version pyproject.toml pins ([tool.uv] required-version): a sync into
# .venv removes whatever the lock does not list, so uv cannot live there.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_DIR := .uv
UV     := $(UV_DIR)/bin/uv
FUZZ_TIME ?= 300

# One stamp per set of dependency groups, each rebuilt when the lock or pyproject.toml
# changes: re-running a target with nothing changed installs nothing.
RUNTIME_STAMP := $(VENV)/.stamp-runtime
DEV_STAMP     := $(VENV)/.stamp-dev
BENCH_STAMP   := $(VENV)/.stamp-bench

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
unexport VIRTUAL_ENV
# --locked: install exactly uv.lock, and stop if it no longer matches pyproject.toml;
# then say which target fixes that (uv's own hint names a uv that is not on PATH).
SYNC = @echo "$(UV) sync --locked $(1)"; \
	$(UV) sync --locked --python $(PYTHON) $(1) || { \
		$(UV) lock --check --quiet 2>/dev/null \
		|| echo "uv.lock no longer matches pyproject.toml: run 'make lock', then commit uv.lock" >&2; \
		exit 1; }

.PHONY: install run test lint format fuzz mutation bench docs screenshots lock upgrade clean

$(UV): pyproject.toml
	@test -x $(UV_DIR)/bin/python || $(PYTHON) -m venv $(UV_DIR)
	$(UV_DIR)/bin/python -m pip install --quiet --disable-pip-version-check \
		"uv$$($(PYTHON) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["tool"]["uv"]["required-version"])')"
	@touch $@

# The runtime dependencies only (no test or lint tools). --inexact: a .venv that already
# holds the development tools keeps them.
$(RUNTIME_STAMP): uv.lock pyproject.toml | $(UV)
	$(call SYNC,--no-dev --inexact)
	@touch $@

# Runtime + the `dev` group, exactly: anything else (the `bench` group) is removed.
$(DEV_STAMP): uv.lock pyproject.toml | $(UV)
	$(call SYNC)
	@rm -f $(BENCH_STAMP)
	@touch $@ $(RUNTIME_STAMP)

$(BENCH_STAMP): uv.lock pyproject.toml | $(UV)
	$(call SYNC,--group bench)
	@touch $@ $(DEV_STAMP) $(RUNTIME_STAMP)

install: $(DEV_STAMP)  ## the development environment (runtime + test and lint tools)

run: $(RUNTIME_STAMP)  ## serve on the embedded defaults (SQLite under ./data, no other service)
	$(BIN)/python -m app migrate
	$(BIN)/python -m app serve

# ITEMSVC_UV: tests/test_packaging.py replays the Docker image's install with this uv.
test: install  ## SQLite always; PostgreSQL/Redis too when TEST_DATABASE_URL/TEST_REDIS_URL are set
	ITEMSVC_UV=$(abspath $(UV)) $(BIN)/python -m pytest $(PYTEST_ARGS)

fuzz: install  ## Schemathesis for FUZZ_TIME seconds against a real server (PostgreSQL with TEST_DATABASE_URL)
	$(BIN)/python -m tests.fuzz --max-time $(FUZZ_TIME) $(FUZZ_ARGS)

mutation: install  ## mutmut on the security and data-integrity modules (SQLite; MUTATION_ARGS="app/core/cursor.py")
	$(BIN)/python -m tests.mutation $(MUTATION_ARGS)

lint: install
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix app tests bench
	$(BIN)/ruff format app tests bench

bench: $(BENCH_STAMP)  ## service vs a minimal reference app under wrk (BENCH_QUICK=1, BENCH_ARGS="--skip-1m")
	$(BIN)/python -m bench $(BENCH_ARGS)

# Not --quiet: it hides the warnings (broken links and anchors) that --strict turns into errors.
docs: install  ## the manual: regenerate the reference pages, then build docs/ into site/ (offline)
	$(BIN)/python -m app docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

screenshots: install  ## retake docs/img/admin-console.png (a real server and Chromium)
	$(BIN)/python -m tests.browser.screenshots

lock: $(UV)  ## update uv.lock after editing the dependencies in pyproject.toml (changes as little as it can)
	$(UV) lock

upgrade: $(UV)  ## move every locked dependency to the newest version pyproject.toml allows
	$(UV) lock --upgrade
	@echo "uv.lock refreshed (git diff uv.lock shows what moved). Next: make test && make lint, then commit uv.lock."

clean:
	rm -rf $(VENV) $(UV_DIR) .pytest_cache .mypy_cache .ruff_cache site .mutation
