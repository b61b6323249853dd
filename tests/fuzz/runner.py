"""Run Schemathesis (its CLI, as anyone would) against a real server, and judge the run.

A run fails when Schemathesis reports a failure, an error or a warning listed in
`schemathesis.toml`, or when the server logged a traceback (an exception that did
not become a clean error response).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tests.fuzz.server import REPO, Server, fresh_database, make_workdir, running_server

CONFIG = Path(__file__).with_name("schemathesis.toml")
PHASES = "examples,coverage,fuzzing,stateful"
FUZZ_EMAIL = "fuzz-admin@example.com"
FUZZ_PASSWORD = "Fuzz-Admin-Password-1"
REPORT_LIMIT = 30_000
_SECTIONS = ("= ERRORS =", "= FAILURES =", "= WARNINGS =", "= SUMMARY =")


@dataclass(frozen=True, slots=True)
class Budget:
    max_examples: int = 25
    max_time: int | None = None  # seconds; fuzzing and stateful phases repeat until spent
    seed: int | None = None
    workers: int = 1  # more threads hit a CPython 3.11 bug in ast.parse (hypothesis lambdas)


@dataclass(frozen=True, slots=True)
class FuzzResult:
    returncode: int
    output: str
    server_log: str
    workdir: Path | None = None  # kept after a failed run: report, server log, database

    @property
    def server_tracebacks(self) -> bool:
        return "Traceback (most recent call last)" in self.server_log

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.server_tracebacks

    def report(self) -> str:
        """What a reader needs: Schemathesis' findings and summary, and the server's errors."""
        output = self.output
        found = [output.find(marker) for marker in _SECTIONS if marker in output]
        if found:  # from the first section header on: the progress lines say little
            output = output[output.rfind("\n", 0, min(found)) + 1 :]
        parts = [f"schemathesis exited with {self.returncode}", _shorten(output)]
        if self.workdir is not None:
            parts.append(f"reports, server log and database kept in {self.workdir}")
        if self.server_tracebacks:
            parts += ["server log:", _shorten(self.server_log)]
        return "\n".join(parts)


def _shorten(text: str) -> str:
    """The start (first findings) and the end (summary) of a long text."""
    if len(text) <= REPORT_LIMIT:
        return text
    half = REPORT_LIMIT // 2
    return (
        f"{text[:half]}\n[... {len(text) - REPORT_LIMIT} characters left out ...]\n{text[-half:]}"
    )


def cursor_exemptions(document: dict[str, Any]) -> str:
    """Settings for every operation that takes a `cursor`, found in the OpenAPI document.

    A cursor is a signed token that only the service hands out (`next_cursor`): any
    other string, however schema-valid, is rightly a 422 (tests/test_pagination.py
    covers forged, altered and foreign cursors), so that answer is accepted there.
    """
    names = [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if any(
            parameter.get("in") == "query" and parameter.get("name") == "cursor"
            for parameter in operation.get("parameters", ())
        )
    ]
    statuses = ["2xx", "401", "403", "404", "409", "422", "429", "5xx"]
    return (
        "[[operations]]\n"
        f"include-name = {json.dumps(names)}\n"
        f"checks.positive_data_acceptance.expected-statuses = {json.dumps(statuses)}\n"
    )


def write_config(server: Server, path: Path) -> Path:
    """schemathesis.toml with the cursor exemptions of the server's own document."""
    with urllib.request.urlopen(f"{server.base_url}/openapi.json", timeout=30) as response:
        document = json.load(response)
    path.write_text(CONFIG.read_text(encoding="utf-8") + "\n" + cursor_exemptions(document))
    return path


def schemathesis_command(
    server: Server, budget: Budget, report_dir: Path, config: Path = CONFIG
) -> list[str]:
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(config),
        "run", f"{server.base_url}/openapi.json",
        "--checks", "all",
        "--phases", PHASES,
        "--max-examples", str(budget.max_examples),
        "--workers", str(budget.workers),
        "--generation-database", "none",
        "--request-timeout", "30",
        "--no-color",
        "--report", "junit",
        "--report-dir", str(report_dir),
    ]  # fmt: skip
    if budget.max_time is not None:
        command += ["--max-time", str(budget.max_time)]
    if budget.seed is not None:
        command += ["--seed", str(budget.seed)]
    return command


def fuzz_server(
    server: Server, budget: Budget, report_dir: Path, *, stream: bool = False
) -> FuzzResult:
    env = {
        **server.env,
        "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
        "FUZZ_LOGIN_URL": f"{server.base_url}/api/v1/auth/login",
        "FUZZ_EMAIL": FUZZ_EMAIL,
        "FUZZ_PASSWORD": FUZZ_PASSWORD,
    }
    report_dir.mkdir(parents=True, exist_ok=True)
    config = write_config(server, report_dir / "schemathesis.toml")
    command = schemathesis_command(server, budget, report_dir, config)
    if stream:  # a long run shows its progress as it goes
        returncode = subprocess.run(command, cwd=REPO, env=env, check=False).returncode
        return FuzzResult(returncode, "", server.log())
    completed = subprocess.run(
        command, cwd=REPO, env=env, check=False, capture_output=True, text=True, errors="replace"
    )
    return FuzzResult(completed.returncode, completed.stdout + completed.stderr, server.log())


def fuzz(postgres_url: str | None, budget: Budget, *, stream: bool = False) -> FuzzResult:
    """Fresh database, real server, one Schemathesis run; everything stopped afterwards.

    The working directory is deleted after a clean run and kept after a failed one.
    """
    workdir = make_workdir()
    with (
        fresh_database(postgres_url, workdir) as database_url,
        running_server(database_url, workdir) as server,
    ):
        result = fuzz_server(server, budget, workdir / "report", stream=stream)
    if result.ok:
        shutil.rmtree(workdir, ignore_errors=True)
        return result
    return replace(result, workdir=workdir)


def default_seed() -> int | None:
    seed = os.environ.get("FUZZ_SEED")
    return int(seed) if seed else None
