"""`python -m tests.fuzz`: a long Schemathesis run against a real server (`make fuzz`).

SQLite by default; `--database-url` (or TEST_DATABASE_URL) for PostgreSQL, where a
database named after it with `_fuzz` appended is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections.abc import Sequence

from tests.fuzz.runner import Budget, default_seed, fuzz


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument(
        "--max-examples", type=int, default=300, help="cases per operation and phase"
    )
    parser.add_argument("--max-time", type=int, default=300, help="seconds for the whole run")
    parser.add_argument("--seed", type=int, default=default_seed(), help="default: random")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    budget = Budget(
        max_examples=args.max_examples, max_time=args.max_time, seed=seed, workers=args.workers
    )
    backend = "PostgreSQL" if args.database_url else "SQLite"
    sys.stdout.write(f"Fuzzing on {backend}, seed {seed} (reproduce with --seed {seed})\n")
    sys.stdout.flush()
    result = fuzz(args.database_url, budget, stream=True)
    if result.server_tracebacks:
        sys.stdout.write("The server logged tracebacks:\n" + result.server_log[-20_000:] + "\n")
    if result.workdir is not None:
        sys.stdout.write(f"Reports, server log and database kept in {result.workdir}\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
