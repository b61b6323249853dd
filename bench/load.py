"""Driving a server with wrk: one measurement, and the install of wrk when it is missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

LUA_SCRIPT = Path(__file__).parent / "lua" / "requests.lua"
WRK_TIMEOUT = 5.0  # seconds: a request slower than this counts as a timeout (an error)


@dataclass(frozen=True, slots=True)
class Request:
    """One request in the round-robin list wrk replays."""

    method: str
    path: str
    token: str = ""
    body: str = ""

    def line(self) -> str:
        return "\t".join((self.method, self.path, self.token, self.body))


@dataclass(frozen=True, slots=True)
class Measurement:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # connect + read + write errors, non-2xx/3xx answers, timeouts
    non_2xx: int
    timeouts: int
    cpu_ms: float | None = None  # the server's CPU time per request (user + system)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def ensure_wrk() -> str:
    """The path of wrk, installed from the distribution's packages if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*prefix, "apt-get", "update", "-qq"], check=False)
    subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and could not be installed")
    return found


def run_wrk(
    base_url: str,
    requests: Sequence[Request],
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    timeout: float = WRK_TIMEOUT,
) -> Measurement:
    """Replay `requests` round robin against `base_url` for `seconds`."""
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as handle:
        handle.write("\n".join(r.line() for r in requests) + "\n")
        listing = handle.name
    try:
        command = [
            ensure_wrk(),
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={timeout:g}s",
            "-s",
            str(LUA_SCRIPT),
            base_url,
        ]
        env = {**os.environ, "BENCH_REQUESTS": listing}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    finally:
        Path(listing).unlink(missing_ok=True)
    return parse(done.stdout, done.stderr)


def parse(stdout: str, stderr: str = "") -> Measurement:
    for line in stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            raw = json.loads(line.removeprefix("BENCH_RESULT "))
            break
    else:
        raise RuntimeError(f"wrk printed no result:\n{stdout}\n{stderr}")
    seconds = raw["duration_us"] / 1e6
    socket_errors = raw["connect"] + raw["read"] + raw["write"]
    return Measurement(
        requests=raw["requests"],
        seconds=round(seconds, 2),
        rps=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=socket_errors + raw["status"] + raw["timeout"],
        non_2xx=raw["status"],
        timeouts=raw["timeout"],
    )
