"""Fetch the vendored front-end files again from npm: `python scripts/vendor_assets.py`.

For an upgrade, change the version in `app/web/assets.py` (`VENDORED`), run this,
then the browser tests. It needs `npm` (which checks each tarball's integrity) and
writes only the files listed there, licences included, into
`app/web/static/vendor/<folder>/`; folders of other versions are removed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.web.assets import STATIC_DIR, VENDORED, Vendored  # noqa: E402


def fetch(package: Vendored, workdir: Path) -> None:
    spec = f"{package.npm_name}@{package.version}"
    result = subprocess.run(
        ["npm", "pack", spec, "--silent", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = workdir / result.stdout.strip().splitlines()[-1]
    target = STATIC_DIR / "vendor" / package.folder
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with tarfile.open(tarball) as archive:
        for name in package.files:
            member = archive.extractfile(f"package/{name}")
            if member is None:
                raise SystemExit(f"{spec} has no {name}")
            (target / Path(name).name).write_bytes(member.read())
    sys.stdout.write(f"{spec} -> {target.relative_to(ROOT)}\n")


def main() -> None:
    vendor = STATIC_DIR / "vendor"
    current = {package.folder for package in VENDORED}
    for stale in vendor.iterdir():
        if stale.is_dir() and stale.name not in current:
            shutil.rmtree(stale)
    with tempfile.TemporaryDirectory() as workdir:
        for package in VENDORED:
            fetch(package, Path(workdir))


if __name__ == "__main__":
    main()
