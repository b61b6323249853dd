"""The job folder: uploads waiting for an import, finished exports, the embedded broker.

    JOB_DIR/
      imports/   uploads, removed when their import finishes
      exports/   CSV files, downloaded through GET /tasks/{id}/download
      broker/    the embedded broker's messages (when no broker is configured)

Files in `imports/` and `exports/` older than `JOB_FILE_MAX_AGE` are deleted by a
sweep that workers run when they start a task (at most once a minute per process).
The API and the workers must see the same folder (on one machine, or a shared volume).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

logger = logging.getLogger(__name__)

SWEPT_FOLDERS = ("imports", "exports")
SWEEP_EVERY = 60.0  # seconds between sweeps in one process

_last_sweep = -SWEEP_EVERY


def sweep_job_files(job_path: Path, *, max_age: float, force: bool = False) -> int:
    """Delete job files older than `max_age` seconds; returns how many went."""
    global _last_sweep
    now = time.monotonic()
    if not force and now - _last_sweep < SWEEP_EVERY:
        return 0
    _last_sweep = now
    cutoff = time.time() - max_age
    removed = 0
    for folder in SWEPT_FOLDERS:
        directory = job_path / folder
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # removed meanwhile by another process
    if removed:
        logger.info("removed %d job file(s) older than %d s", removed, max_age)
    return removed
