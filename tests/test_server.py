"""Black-box: the README's first session, run as printed against `make run`'s server.

The session is the README's code block between its `session` markers, pasted into
bash as a reader would; every `#>` line in it is output the reader is promised, and
must appear, in order (`...` stands for anything). The server runs on the embedded
defaults (`python -m app migrate`, then `python -m app serve`, no setting but the
data folder) on a fresh database: SQLite, and PostgreSQL when it is configured.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from bench.servers import free_port, service
from tests.fuzz.server import fresh_database

README = Path(__file__).resolve().parent.parent / "README.md"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = [pytest.param(None, id="sqlite")]
if POSTGRES_URL:
    BACKENDS.append(pytest.param(POSTGRES_URL, id="postgresql"))


def readme_session() -> tuple[str, list[str]]:
    """The session's bash code, and the output lines it shows (`#> ...`)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("--8<-- [start:session]", 1)[1].split("--8<-- [end:session]", 1)[0]
    code = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert code, "the README's session is not a ```bash block between its markers"
    script = code.group(1)
    return script, [line[3:] for line in script.splitlines() if line.startswith("#> ")]


def assert_shown_in_order(shown: list[str], output: str) -> None:
    printed = iter(output.splitlines())
    for line in shown:
        pattern = re.compile(".*".join(map(re.escape, line.split("..."))))
        assert any(pattern.fullmatch(out) for out in printed), (
            f"the README shows\n  {line}\nbut the session printed (in order):\n{output}"
        )


def defaults_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """This environment without any setting of the service: `make run`'s defaults."""
    names = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    env["DATA_DIR"] = str(data_dir)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def test_assert_shown_in_order_fails_on_a_wrong_or_reordered_output() -> None:
    assert_shown_in_order(["a...c", "d"], "x\nabc\nd\n")
    with pytest.raises(AssertionError, match="the README shows"):
        assert_shown_in_order(["d", "a...c"], "abc\nd\n")
    with pytest.raises(AssertionError, match="the README shows"):
        assert_shown_in_order(['{"error":"price: ..."}'], '{"error":"title: x"}\n')


@pytest.mark.slow
@pytest.mark.parametrize("postgres_url", BACKENDS)
def test_readme_session(postgres_url: str | None, tmp_path: Path) -> None:
    script, shown = readme_session()
    assert shown, "the README's session shows no output to check"
    with fresh_database(postgres_url, tmp_path, suffix="_readme") as url:
        env = defaults_env(tmp_path / "data", url if postgres_url else None)
        migrate = [sys.executable, "-m", "app", "migrate"]
        subprocess.run(migrate, env=env, check=True, capture_output=True, timeout=120)
        port = free_port()
        with service(port, {**env, "PORT": str(port)}, tmp_path / "server.log") as server:
            session = subprocess.run(
                ["bash", "-eu", "-o", "pipefail", "-c", script],
                cwd=tmp_path,
                env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PORT": str(port)},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert session.returncode == 0, session.stderr + session.stdout
            assert_shown_in_order(shown, session.stdout)
            assert httpx.get(f"{server.base_url}/docs").status_code == 200
            assert httpx.get(f"{server.base_url}/health/ready").json()["status"] == "ready"
    assert (tmp_path / "data" / "secret_key").exists()  # generated: no SECRET_KEY was set
