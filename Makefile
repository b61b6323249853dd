# `make run` and `make test` set everything up on a fresh machine (Python 3.11+ and make).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
FUZZ_TIME ?= 300

.PHONY: install run test lint format fuzz bench docs screenshots clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: install  ## serve on the embedded defaults (SQLite under ./data, no other service)
	$(BIN)/python -m app migrate
	$(BIN)/python -m app serve

test: install  ## SQLite always; PostgreSQL/Redis too when TEST_DATABASE_URL/TEST_REDIS_URL are set
	$(BIN)/python -m pytest $(PYTEST_ARGS)

fuzz: install  ## Schemathesis for FUZZ_TIME seconds against a real server (PostgreSQL with TEST_DATABASE_URL)
	$(BIN)/python -m tests.fuzz --max-time $(FUZZ_TIME) $(FUZZ_ARGS)

lint: install
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix app tests bench
	$(BIN)/ruff format app tests bench

bench: install  ## service vs a minimal reference app under wrk (BENCH_QUICK=1, BENCH_ARGS="--skip-1m")
	@$(BIN)/python -c "import orjson" 2>/dev/null || $(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev,bench]"
	$(BIN)/python -m bench $(BENCH_ARGS)

# Not --quiet: it hides the warnings (broken links and anchors) that --strict turns into errors.
docs: install  ## the manual: regenerate the reference pages, then build docs/ into site/ (offline)
	$(BIN)/python -m app docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

screenshots: install  ## retake docs/img/admin-console.png (a real server and Chromium)
	$(BIN)/python -m tests.browser.screenshots

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
