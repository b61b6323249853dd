"""Run the service as a real server process (`python -m app serve`) for black-box tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.servers import free_port, serve_command

STARTUP_TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ServerProcess:
    process: asyncio.subprocess.Process
    url: str
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


async def wait_until_healthy(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT
    async with httpx.AsyncClient(timeout=2) as client:
        while asyncio.get_running_loop().time() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"server exited at start-up:\n{await read(log)}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{url}/health")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"server did not start in time:\n{await read(log)}")


async def read(path: Path) -> str:
    return await asyncio.to_thread(path.read_text, errors="replace")


@contextlib.asynccontextmanager
async def running_server(
    log: Path,
    env: Mapping[str, str] | None = None,
    *,
    workers: int = 1,
    unset: tuple[str, ...] = (),
    python: str = sys.executable,
    cwd: Path = ROOT,
) -> AsyncIterator[ServerProcess]:
    """Start a server on a free port, wait for /health, and stop it with SIGTERM at the end.

    `env` is laid over this process's environment; names in `unset` are removed from it.
    `python` is the interpreter (of another virtualenv, say) and `cwd` its directory.
    """
    port = free_port()
    environment = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in unset}
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *serve_command(port, workers, python=python),
            cwd=cwd,
            env=environment,
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
        )
    server = ServerProcess(process, f"http://127.0.0.1:{port}", port, log)
    try:
        await wait_until_healthy(server.url, process, log)
        yield server
    finally:
        await stop(process)


async def stop(process: asyncio.subprocess.Process, grace: float = 30.0) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            process.kill()
            await process.wait()
