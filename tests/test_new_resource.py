"""`new-resource` and `makemigration` on a scratch copy of the repository, as a developer
runs them: the generated resource passes its tests and the lint with no edit.

The copy runs its tests on SQLite only: its migrations test recreates the database it
is given, which must not be this run's PostgreSQL database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import scaffold
from app.db.migrate import alembic_config, next_revision

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
_NOT_INHERITED = ("TEST_DATABASE_URL", "TEST_REDIS_URL", "DATABASE_URL", "REDIS_URL")


def _copy_repository(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    if (REPO / ".mypy_cache").is_dir():  # what mypy already knows about the rest
        shutil.copytree(REPO / ".mypy_cache", target / ".mypy_cache")


def _run(copy: Path, *command: str) -> str:
    env = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
    env["PYTHONPATH"] = str(copy)  # the copy's `app`, not this checkout's
    result = subprocess.run(
        command, cwd=copy, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_a_generated_resource_passes_its_tests_and_the_lint(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    _copy_repository(copy)
    python = sys.executable
    written = _run(copy, python, "-m", "app", "new-resource", "gadget")
    files = [copy / line.removeprefix("wrote ") for line in written.splitlines() if "wrote" in line]
    assert len(files) == 5

    _run(copy, python, "-m", "app", "makemigration", "-m", "gadgets")
    number = next_revision(alembic_config())
    (migration,) = (copy / "app/db/migrations/versions").glob(f"{number}_gadgets.py")
    text = migration.read_text()
    assert f"revision: str = '{number}'" in text
    assert "sa.text(" not in text  # portable server defaults
    assert "uq_gadgets_owner_id_name" in text

    _run(
        copy, python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "tests/test_gadgets_api.py", "tests/test_migrations.py", "tests/test_cascade.py",
    )  # fmt: skip
    names = [str(path.relative_to(copy)) for path in files]
    _run(copy, str(BIN / "ruff"), "check", *names)
    _run(copy, str(BIN / "ruff"), "format", "--check", *names)
    _run(copy, str(BIN / "mypy"), *(name for name in names if name.startswith("app/")))


def test_names_that_cannot_make_a_resource_are_refused() -> None:
    for name in ("Tag", "order-line", "class", "item", "sheep"):
        plural = "sheep" if name == "sheep" else None
        with pytest.raises(scaffold.ScaffoldError):
            scaffold.names_for(name, plural)
    assert scaffold.names_for("category").names == "categories"
    assert scaffold.names_for("box").names == "boxes"


def test_existing_files_are_never_overwritten(tmp_path: Path) -> None:
    names = scaffold.names_for("gadget")
    path = scaffold.targets(names, tmp_path)["service"]
    path.parent.mkdir(parents=True)
    path.write_text("mine")
    with pytest.raises(scaffold.ScaffoldError, match="would overwrite"):
        scaffold.generate(names, tmp_path)
    assert path.read_text() == "mine"
