"""Run mutmut on one target at a time, in a folder of its own, and score the result.

mutmut reads its settings from `setup.cfg` in the folder it runs in (when
`pyproject.toml` has no `[tool.mutmut]`), so each target gets a folder under
`.mutation/` holding links to `app/` and `tests/`, a copy of `pyproject.toml` (for
pytest's settings) and a `setup.cfg` naming that module and its tests. mutmut copies
the code to `mutants/` there and changes only that copy; it runs the tests of each
mutant in a forked process, and only those of the target's tests that ran the
mutated function.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mutmut.mutation.trampoline_templates import mangle_function_name
from mutmut.stats import status_by_exit_code

from tests.mutation.targets import Target

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".mutation"
# Lines never mutated anywhere: log messages are not rules.
NEVER_MUTATED = (r"^\s*logger\.",)
DETECTED = ("killed", "timeout", "segfault")


@dataclass
class Score:
    target: Target
    statuses: dict[str, str]  # mutant name -> mutmut's status
    seconds: float
    survivors: dict[str, str] = field(default_factory=dict)  # mutant name -> diff

    @property
    def counts(self) -> Counter[str]:
        return Counter(self.statuses.values())

    @property
    def detected(self) -> int:
        return sum(self.counts[status] for status in DETECTED)

    @property
    def percent(self) -> float:
        return 100.0 * self.detected / max(len(self.statuses), 1)


def mutated_functions(target: Target) -> list[str]:
    """Name patterns of the mutants to run: every function and method but `skip`."""
    tree = ast.parse((ROOT / target.module).read_text())
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    named: list[tuple[str, str | None]] = []
    for node in tree.body:
        if isinstance(node, functions):
            named.append((node.name, None))
        elif isinstance(node, ast.ClassDef):
            named += [(m.name, node.name) for m in node.body if isinstance(m, functions)]
    unknown = set(target.skip) - {name for name, _ in named}
    if unknown:
        raise SystemExit(f"{target.module}: no function named {sorted(unknown)} to skip")
    return [
        f"{target.name}.{mangle_function_name(name=name, class_name=cls)}__mutmut_*"
        for name, cls in named
        if name not in target.skip
    ]


def setup_cfg(target: Target) -> str:
    lines = [
        "[mutmut]",
        "source_paths = app/",
        f"only_mutate = {target.module}",
        "process_isolation = forkserver",
        "pytest_add_cli_args_test_selection =",
        *(f"    {test}" for test in target.tests),
        "do_not_mutate_patterns =",
        *(f"    {pattern}" for pattern in NEVER_MUTATED),
    ]
    return "\n".join(lines) + "\n"


def prepare(target: Target) -> Path:
    missing = [test for test in target.tests if not (ROOT / test).is_file()]
    if missing:
        raise SystemExit(f"{target.module}: no such test file {missing}")
    folder = WORK / target.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in ("app", "tests"):
        (folder / name).symlink_to(ROOT / name, target_is_directory=True)
    shutil.copy2(ROOT / "pyproject.toml", folder / "pyproject.toml")
    (folder / "setup.cfg").write_text(setup_cfg(target))
    return folder


def mutmut(folder: Path, *args: str, log: Path | None = None) -> str:
    # SQLite only, for speed; Redis stays if TEST_REDIS_URL is set.
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    command = [sys.executable, "-m", "mutmut", *args]
    if log is None:
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        return done.stdout
    with log.open("w") as output:
        subprocess.run(command, cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT)
    return ""


def run(target: Target, *, jobs: int) -> Score:
    folder = prepare(target)
    functions = mutated_functions(target)
    started = time.monotonic()
    mutmut(folder, "run", "--max-children", str(jobs), *functions, log=folder / "mutmut.log")
    seconds = time.monotonic() - started
    meta = folder / "mutants" / f"{target.module}.meta"
    if not meta.is_file():
        raise SystemExit(f"{target.module}: mutmut produced no results; see {folder}/mutmut.log")
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    statuses = {
        name: status_by_exit_code[code]
        for name, code in codes.items()
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in functions)
    }
    score = Score(target, statuses, seconds)
    for name, status in statuses.items():
        if status not in DETECTED:
            score.survivors[name] = mutmut(folder, "show", name)
    return score


def table(scores: list[Score]) -> str:
    rows = [
        "| module | mutants | killed | survived | no tests | score | time |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        counts = s.counts
        rows.append(
            f"| `{s.target.module}` | {len(s.statuses)} | {s.detected} | {counts['survived']} "
            f"| {counts['no tests']} | {s.percent:.1f}% | {s.seconds:.0f} s |"
        )
    total = sum(len(s.statuses) for s in scores)
    detected = sum(s.detected for s in scores)
    seconds = sum(s.seconds for s in scores)
    rows.append(
        f"| all | {total} | {detected} | | | {100.0 * detected / max(total, 1):.1f}% "
        f"| {seconds:.0f} s |"
    )
    return "\n".join(rows)


def report(scores: list[Score]) -> str:
    parts = ["# Mutation score", "", table(scores), ""]
    for s in scores:
        for name, diff in s.survivors.items():
            parts += [f"## {name} ({s.statuses[name]})", "", "```diff", diff.strip(), "```", ""]
    return "\n".join(parts)
