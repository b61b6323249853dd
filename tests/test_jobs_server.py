"""Black-box: `make run`'s two commands, with nothing configured, run jobs by themselves.

`python -m app migrate`, then `python -m app serve`: SQLite under DATA_DIR, and the
server starts a worker process on the embedded broker and stops it when it stops.
(About the embedded defaults, so SQLite only; the job tests cover PostgreSQL.)
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.tasks.worker import ROOT_WARNING
from tests.server import free_port


def _children_of(pid: int) -> list[int]:
    """Processes started by `serve` (its worker), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if f"--exit-with-parent={pid}".encode() in cmdline:
                found.append(int(entry.name))
    return found


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path), "PORT": str(port)}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "JOB_DIR", "EMBEDDED_WORKER"):
        env.pop(name, None)
    log = (tmp_path / "serve.log").open("wb")
    migrate = [sys.executable, "-m", "app", "migrate"]
    subprocess.run(migrate, env=env, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=60)
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "server exited"
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start in 30 s"
                time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        log.close()


def _wait(http: httpx.Client, url: str, headers: dict[str, str]) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, object] = http.get(url, headers=headers).json()
        if body["status"] in ("SUCCESS", "FAILURE") or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_serve_runs_jobs_without_a_broker_and_stops_its_worker(
    server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base, process = server
    api = f"{base}/api/v1"
    email = f"jobs-{os.getpid()}-{time.monotonic_ns()}@example.com"
    with httpx.Client(timeout=10) as http:
        assert http.post(
            f"{api}/users", json={"email": email, "password": "Analytical1"}
        ).is_success
        token = http.post(f"{api}/auth/login", json={"email": email, "password": "Analytical1"})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        upload = http.post(
            f"{api}/items/import",
            files={"file": ("items.csv", b"title,price\nDesk,120\n,3\nLamp,x\n", "text/csv")},
            headers=headers,
        )
        assert upload.status_code == 202, upload.text
        task = _wait(http, f"{api}/tasks/{upload.json()['task_id']}", headers)
        assert task["status"] == "SUCCESS", task
        result = task["result"]
        assert isinstance(result, dict)
        assert result["created"] == 1
        assert [error["row"] for error in result["errors"]] == [2, 3]
        export = http.post(f"{api}/items/export", headers=headers).json()["task_id"]
        done = _wait(http, f"{api}/tasks/{export}", headers)
        assert done["status"] == "SUCCESS", done
        download = http.get(f"{api}/tasks/{export}/download", headers=headers)
        rows = list(csv.reader(io.StringIO(download.text)))
        assert [row[1] for row in rows[1:]] == ["Desk"]
    workers = _children_of(process.pid)  # the worker and its pool processes
    assert workers
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    deadline = time.monotonic() + 10
    while [pid for pid in workers if _alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)]


AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="Celery warns only when run as root")


@AS_ROOT
def test_make_run_output_has_no_superuser_warning(
    server: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    deadline = time.monotonic() + 30
    while b"ready." not in log.read_bytes():  # the embedded worker has started
        assert time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.1)
    assert ROOT_WARNING not in log.read_text(errors="replace")


@AS_ROOT
def test_a_standalone_worker_run_as_root_still_warns(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    for name in ("CELERY_BROKER_URL", "REDIS_URL", "JOB_DIR"):
        env.pop(name, None)
    command = [sys.executable, "-m", "app", "worker", "--pool=solo"]
    output = b""
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as worker:
        assert worker.stdout is not None
        try:
            while b"ready." not in output:
                line = worker.stdout.readline()
                assert line, output.decode(errors="replace")
                output += line
        finally:
            worker.kill()
    assert ROOT_WARNING in output.decode(errors="replace")


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or dead and waiting to be reaped (a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
