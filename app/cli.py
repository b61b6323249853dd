"""`python -m app COMMAND`: serve, worker, migrate, create-superuser, seed, docs and more.

Commands that need the database run their own event loop; they reuse the services
so the rules (password policy, unique e-mails) are the same as over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError as PydanticValidationError

from app import management, reference, scaffold, server
from app.config import get_settings
from app.core.logging import configure_logging
from app.db import migrate
from app.tasks.worker import embedded_worker, run_worker, worker_argv

logger = logging.getLogger("app.cli")

Handler = Callable[[argparse.Namespace], int]


def cmd_serve(args: argparse.Namespace) -> int:
    # Where the server listens is where e-mail links point by default (see
    # Settings.base_url): the command line's address must reach the settings too.
    for name, value in (("HOST", args.host), ("PORT", args.port)):
        if value is not None:
            os.environ[name] = str(value)
    get_settings.cache_clear()
    settings = get_settings()
    with embedded_worker(settings):  # jobs run with no broker configured (see app.tasks)
        server.serve(
            settings, host=args.host, port=args.port, workers=args.workers, reload=args.reload
        )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    settings = get_settings()
    argv = worker_argv(
        settings,
        concurrency=args.concurrency,
        loglevel=args.loglevel or settings.log_level,
        pool=args.pool,
        hostname=args.hostname,
    )
    run_worker(argv, parent_pid=args.exit_with_parent)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    migrate.upgrade(revision=args.revision)
    logger.info("database upgraded to %s", args.revision)
    return 0


def cmd_makemigration(args: argparse.Namespace) -> int:
    try:
        path = migrate.make_migration(args.message)
    except migrate.NoChangesError as exc:
        sys.stderr.write(f"{exc}; nothing written.\n")
        return 1
    sys.stdout.write(f"Wrote {path}: read it, then `python -m app migrate`.\n")
    return 0


def cmd_create_superuser(args: argparse.Namespace) -> int:
    email = args.email or input("E-mail: ").strip()
    password = args.password or getpass.getpass("Password: ")
    try:
        user_id = asyncio.run(management.create_superuser(email, password))
    except PydanticValidationError as exc:
        for error in exc.errors():
            sys.stderr.write(f"{'.'.join(map(str, error['loc']))}: {error['msg']}\n")
        return 2
    sys.stdout.write(f"Superuser {email.lower()} ready (id {user_id}).\n")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    users, items = asyncio.run(management.seed(args.users, args.items, password=args.password))
    sys.stdout.write(f"Seeded {users} users and {items} items.\n")
    return 0


def cmd_purge_tokens(_args: argparse.Namespace) -> int:
    count = asyncio.run(management.purge_tokens())
    sys.stdout.write(f"Deleted {count} expired refresh tokens and ended admin sessions.\n")
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    # Imported here, not at the top: importing app.main builds the application, which
    # reads the settings, and `main()` validates those first to report a bad value cleanly.
    from app.main import create_application

    schema = create_application().openapi()
    text = json.dumps(schema, indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    if not (reference.ROOT / "pyproject.toml").exists():
        sys.stderr.write("python -m app docs runs in a source checkout of the project\n")
        return 2
    parser = build_parser()
    if args.check:
        outdated = reference.stale(parser)
        for path in outdated:
            sys.stderr.write(f"{path} is out of date: run `{reference.REGENERATE}`\n")
        return 1 if outdated else 0
    for path in reference.write(parser):
        sys.stdout.write(f"wrote {path}\n")
    return 0


def cmd_new_resource(args: argparse.Namespace) -> int:
    if not (scaffold.ROOT / "pyproject.toml").exists():
        sys.stderr.write("python -m app new-resource runs in a source checkout of the project\n")
        return 2
    try:
        paths = scaffold.generate(scaffold.names_for(args.name, args.plural))
    except scaffold.ScaffoldError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    for path in paths:
        sys.stdout.write(f"wrote {path.relative_to(scaffold.ROOT)}\n")
    sys.stdout.write(
        f'next: python -m app makemigration -m "{args.name} table", then make test and '
        "make lint (docs/development/adding-a-resource.md)\n"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve the API (uvicorn)",
        description=(
            "WORKERS processes share the socket (a dead one is replaced); on SIGTERM each "
            "finishes the requests in flight (SHUTDOWN_TIMEOUT) and closes its pools. With no "
            "broker configured, it also starts a job worker process of its own."
        ),
    )
    serve.add_argument("--host", help="address to bind (HOST)")
    serve.add_argument("--port", type=int, help="port to bind (PORT)")
    serve.add_argument("--workers", type=int, help="worker processes (WORKERS)")
    serve.add_argument("--reload", action="store_true", help="restart on code changes")
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser(
        "worker",
        help="run a Celery worker for background jobs",
        description=(
            "Takes import and export jobs from the broker (CELERY_BROKER_URL, else REDIS_URL, "
            "else the embedded one in JOB_DIR). Run as many as you need, on any machine that "
            "shares JOB_DIR with the API."
        ),
    )
    worker.add_argument(
        "--concurrency", type=int, help="tasks at once (CELERY_WORKER_CONCURRENCY; default: CPUs)"
    )
    worker.add_argument("--loglevel", help="log level (default: LOG_LEVEL)")
    worker.add_argument(
        "--pool",
        default="prefork",
        choices=["prefork", "threads", "solo"],
        help="execution pool (time limits need prefork)",
    )
    worker.add_argument("--hostname", help="worker name, e.g. worker1@%%h")
    worker.add_argument("--exit-with-parent", type=int, metavar="PID", help=argparse.SUPPRESS)
    worker.set_defaults(handler=cmd_worker)

    upgrade = commands.add_parser("migrate", help="apply migrations (upgrade to head)")
    upgrade.add_argument("--revision", default="head", help="target revision")
    upgrade.set_defaults(handler=cmd_migrate)

    make = commands.add_parser(
        "makemigration", help="write the next numbered migration, autogenerated from the models"
    )
    make.add_argument("-m", "--message", required=True, help="what the migration does")
    make.set_defaults(handler=cmd_makemigration)

    resource = commands.add_parser(
        "new-resource",
        help="write the files of a new resource that users own",
        description=(
            "Writes the model, schemas, service, router and tests of a resource owned by "
            "users, listed with sorts, filters and cursors, changed by its owner only; "
            "nothing else needs editing. Then run makemigration."
        ),
    )
    resource.add_argument("name", help="singular, lower-case words joined by _ (order_line)")
    resource.add_argument("--plural", help="the plural, if adding s is wrong (order_lines)")
    resource.set_defaults(handler=cmd_new_resource)

    superuser = commands.add_parser(
        "create-superuser",
        help="create or promote a superuser",
        description=(
            "Creates a verified superuser, or promotes the account that has this e-mail "
            "(setting its password, enabling and verifying it). Prompts for what is missing."
        ),
    )
    superuser.add_argument("--email", help="e-mail (prompted if missing)")
    superuser.add_argument("--password", help="password (prompted if missing)")
    superuser.set_defaults(handler=cmd_create_superuser)

    seed = commands.add_parser(
        "seed",
        help="insert demo users and items in bulk",
        description=(
            "Users demo<id>@example.com, items spread over them; PostgreSQL loads through COPY."
        ),
    )
    seed.add_argument("--users", type=int, default=10, help="how many users (default 10)")
    seed.add_argument("--items", type=int, default=100, help="how many items (default 100)")
    seed.add_argument("--password", default="Password123", help="password of every demo user")
    seed.set_defaults(handler=cmd_seed)

    purge = commands.add_parser(
        "purge-tokens",
        help="delete expired refresh tokens and ended admin sessions",
        description="Run it daily (cron, a scheduled job): expired rows are never used again.",
    )
    purge.set_defaults(handler=cmd_purge_tokens)

    openapi = commands.add_parser("openapi", help="print the OpenAPI schema as JSON")
    openapi.add_argument("-o", "--output", help="write to this file instead of stdout")
    openapi.set_defaults(handler=cmd_openapi)

    docs = commands.add_parser(
        "docs",
        help="write the generated reference pages and .env.example",
        description=(
            "For development: writes docs/reference/settings.md and .env.example from "
            "app/config.py, and docs/reference/cli.md from this command line. A test fails "
            "when a committed copy is stale."
        ),
    )
    docs.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is stale"
    )
    docs.set_defaults(handler=cmd_docs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except PydanticValidationError as exc:
        for error in exc.errors():
            name = ".".join(map(str, error["loc"])).upper() or "settings"
            sys.stderr.write(f"Invalid setting {name}: {error['msg']}\n")
        return 2
    configure_logging(settings)
    handler: Handler = args.handler
    return handler(args)
