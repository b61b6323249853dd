"""`python -m tests.mutation`: mutation testing of the security and data-integrity rules.

Each module of `tests/mutation/targets.py` is mutated by mutmut and each mutant
runs against that module's focused tests, on SQLite (TEST_DATABASE_URL is ignored;
TEST_REDIS_URL, if set, lets the rate limiter's Redis tests run too). Prints the
score per module, writes `.mutation/report.md` with every surviving mutant's diff,
and exits non-zero if a module scores under `--fail-under`. Not part of CI: it
takes several minutes per module here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tests.mutation.runner import WORK, report, run, table
from tests.mutation.targets import TARGETS


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__)
    parser.add_argument(
        "modules", nargs="*", help="only these (paths or names, e.g. app/core/cursor.py)"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants at once")
    parser.add_argument("--fail-under", type=float, default=90.0, help="lowest score accepted (%%)")
    args = parser.parse_args(argv)
    chosen = [t for t in TARGETS if not args.modules or {t.module, t.name} & set(args.modules)]
    if not chosen:
        parser.error(f"no such target; choose from {[t.module for t in TARGETS]}")
    scores = []
    for target in chosen:
        sys.stdout.write(f"{target.module}: mutating, tests {', '.join(target.tests)}\n")
        sys.stdout.flush()
        scores.append(score := run(target, jobs=args.jobs))
        sys.stdout.write(
            f"{target.module}: {score.detected}/{len(score.statuses)} killed "
            f"({score.percent:.1f}%) in {score.seconds:.0f} s\n"
        )
        sys.stdout.flush()
    WORK.mkdir(exist_ok=True)
    (WORK / "report.md").write_text(report(scores))
    sys.stdout.write(table(scores) + f"\n\nSurviving mutants: {WORK / 'report.md'}\n")
    return 0 if all(s.percent >= args.fail_under for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
