"""The phases of a run: one dataset, its servers, and the measurements taken on it."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench import servers
from bench.dataset import Dataset, prepare
from bench.load import WRK_TIMEOUT, Measurement, Request, run_wrk
from bench.report import Row
from bench.scenarios import HEALTH, ITEM, LOGIN, SCENARIOS, Context, Scenario
from bench.servers import MemoryWatch, Server

logger = logging.getLogger("bench")

# Settings the service must not inherit from the environment of whoever runs the harness.
_SCRUBBED = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SMTP_HOST")
LOGIN_CONNECTIONS = (4, 16)
HEALTH_ALONGSIDE = 2  # connections asking /health while logins run
LOGIN_TIMEOUT = 60.0
# The stack's floor (bench/floor.py): app, and the variant its rows are labelled with.
FLOORS = (
    ("bench.floor:pool_app", "floor: FastAPI + asyncpg pool"),
    ("bench.floor:session_app", "floor: FastAPI + AsyncSession"),
)


@dataclass
class Run:
    args: argparse.Namespace
    workdir: Path
    secret: str

    # -- environments ---------------------------------------------------------------

    def _env(self, dataset: Dataset, **extra: str) -> dict[str, str]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        env.update(
            DATABASE_URL=dataset.url,
            BENCH_REF_DSN=dataset.dsn if dataset.backend == "postgresql" else "",
            SECRET_KEY=self.secret,
            ENVIRONMENT="production",
            DATA_DIR=str(self.workdir / "data"),
            ACCESS_TOKEN_EXPIRE_MINUTES="600",
            RATE_LIMIT_ENABLED="false",
            PYTHONPATH=str(servers.ROOT),
        )
        env.update(extra)
        return env

    def _service(self, dataset: Dataset, name: str, **extra: str) -> Server:
        log = self.workdir / "logs" / f"{dataset.label}-{name}.log"
        env = self._env(dataset, **{**self.args.service_env, **extra})
        if self.args.service_src:
            env["PYTHONPATH"] = str(self.args.service_src.resolve())
        server = servers.service(self.args.port, env, log)
        server.cwd = self.workdir  # no stray .env file is read
        return server

    def _reference(self, dataset: Dataset) -> Server:
        log = self.workdir / "logs" / f"{dataset.label}-reference.log"
        server = servers.reference(self.args.port + 1, self._env(dataset), log)
        server.cwd = self.workdir
        return server

    # -- measuring --------------------------------------------------------------------

    def _scenarios(self) -> list[Scenario]:
        only = self.args.only
        return [s for s in SCENARIOS if not only or s.name in only]

    def _measure(
        self,
        server: Server,
        requests: list[Request],
        connections: int,
        seconds: float,
        timeout: float = WRK_TIMEOUT,
    ) -> Measurement:
        cpu_before = server.cpu_seconds()
        result = run_wrk(
            server.base_url,
            requests,
            connections=connections,
            seconds=seconds,
            threads=self.args.threads,
            timeout=timeout,
        )
        if not server.alive():
            raise RuntimeError(f"{server.name} died; see {server.log_path}")
        cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / max(result.requests, 1)
        result = dataclasses.replace(result, cpu_ms=round(cpu_ms, 3))
        logger.info(
            "  %-9s c=%-3d %8.1f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %d  cpu %.3f ms/req",
            server.name, connections, result.rps, result.p50_ms, result.p99_ms, result.errors,
            cpu_ms,
        )  # fmt: skip
        return result

    def compare(
        self,
        dataset: Dataset,
        context: Context,
        apps: list[Server],
        *,
        connections: int,
        rounds: int,
        variant: str = "",
        scenarios: list[Scenario] | None = None,
    ) -> list[Row]:
        """Each scenario: warm-up, then A B A B over `apps` (the one measured first, the
        reference after it).

        Runs above the default concurrency last at least twice wrk's time-out, so a
        request that never answers shows as a time-out (or the run as stalled), not as
        a short run that ended first.
        """
        seconds = self.args.seconds
        if connections > self.args.connections:
            seconds = max(seconds, 2 * WRK_TIMEOUT)
        rows = []
        for scenario in self._scenarios() if scenarios is None else scenarios:
            label = scenario.label.replace("{deep}", f"{context.deep_rows:,}")
            logger.info("%s %s, %d connections %s", dataset.label, label, connections, variant)
            lists = {app.name: scenario.build(context, app.base_url) for app in apps}
            row = Row(dataset.label, scenario.name, label, connections, variant)
            for app in apps:
                run_wrk(
                    app.base_url, lists[app.name], connections=connections, seconds=self.args.warmup
                )
            for _ in range(rounds):
                for app in apps:
                    result = self._measure(app, lists[app.name], connections, seconds)
                    (row.service if app is apps[0] else row.reference).append(result)
            rows.append(row)
        return rows

    def logins(self, dataset: Dataset, context: Context, apps: list[Server]) -> list[Row]:
        """Logins (Argon2 in worker threads) with /health asked alongside, memory watched."""
        rows = []
        seconds = self.args.seconds * 2
        for connections in LOGIN_CONNECTIONS:
            row = Row(dataset.label, LOGIN.name, LOGIN.label, connections, "")
            for app in apps:
                logins = LOGIN.build(context, app.base_url)
                health = HEALTH.build(context, app.base_url)
                with MemoryWatch(app) as memory, ThreadPoolExecutor(2) as pool:
                    # Logins queue for the hashing pool: long waits are expected, not errors.
                    login_run = pool.submit(
                        self._measure, app, logins, connections, seconds, LOGIN_TIMEOUT
                    )
                    health_run = pool.submit(self._measure, app, health, HEALTH_ALONGSIDE, seconds)
                    result, health_result = login_run.result(), health_run.result()
                (row.service if app.name == "service" else row.reference).append(result)
                row.extra[app.name] = {
                    "health_p99_ms": health_result.p99_ms,
                    "health_rps": health_result.rps,
                    "health_errors": health_result.errors,
                    "peak_rss_mib": memory.peak_mib,
                    "peak_rss_lifetime_mib": round(app.memory_kib("VmHWM") / 1024, 1),
                }
                logger.info(
                    "  %s: /health p99 %.1f ms, peak RSS %.0f MiB",
                    app.name,
                    health_result.p99_ms,
                    memory.peak_mib,
                )
            rows.append(row)
        return rows

    # -- phases -------------------------------------------------------------------------

    def postgres(self, dataset: Dataset, *, extended: bool) -> tuple[list[Row], list[Row]]:
        fixtures = prepare(dataset)
        rows: list[Row] = []
        logins: list[Row] = []
        connections, rounds = self.args.connections, self.args.rounds
        with self._service(dataset, "service") as service, self._reference(dataset) as reference:
            context = Context.log_in(service.base_url, fixtures)
            apps = [service, reference]
            rows += self.compare(dataset, context, apps, connections=connections, rounds=rounds)
            if extended:
                rows += self.compare(dataset, context, apps, connections=self.args.high, rounds=1)
                if not self.args.no_login:
                    logins += self.logins(dataset, context, apps)
            if extended and not self.args.no_limiter:
                service.stop()
                limited = self._service(
                    dataset, "limiter", REDIS_URL=self.args.redis_url, RATE_LIMIT_ENABLED="true",
                    RATE_LIMIT_REQUESTS="1000000000",
                )  # fmt: skip
                with limited:
                    apps = [limited, reference]
                    rows += self.compare(
                        dataset, context, apps, connections=connections, rounds=1, variant="limiter"
                    )
            if extended and not self.args.no_floor:
                service.stop()
                rows += self.floor(dataset, context, reference)
        return rows, logins

    def floor(self, dataset: Dataset, context: Context, reference: Server) -> list[Row]:
        """`GET /items/{id}` from FastAPI apps with none of the service's code, beside the
        reference: the best ratio any service on this stack could show."""
        rows = []
        for target, variant in FLOORS:
            log = self.workdir / "logs" / f"{dataset.label}-{target.rpartition(':')[2]}.log"
            app = servers.asgi_app("floor", target, self.args.port, self._env(dataset), log)
            app.cwd = self.workdir
            with app:
                rows += self.compare(
                    dataset, context, [app, reference], connections=self.args.connections,
                    rounds=self.args.rounds, variant=variant, scenarios=[ITEM],
                )  # fmt: skip
        return rows

    def sqlite(self, dataset: Dataset) -> tuple[list[Row], list[Row]]:
        fixtures = prepare(dataset)
        with self._service(dataset, "service") as service:
            context = Context.log_in(service.base_url, fixtures)
            rows = self.compare(
                dataset, context, [service], connections=self.args.connections, rounds=1
            )
            rows += self.compare(dataset, context, [service], connections=self.args.high, rounds=1)
            logins = [] if self.args.no_login else self.logins(dataset, context, [service])
        return rows, logins
