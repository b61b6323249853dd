"""`python -m app new-resource NAME`: the files of a new owned, listable resource.

Writes one small file per layer, in the house style (see
docs/development/adding-a-resource.md): the model, its schemas (body, patch, list
query, response), its service (a `Listing` of its sorts and filters, owner-only
changes), its router, and its tests. Nothing else changes by hand: models, routers,
the deletes that go with a user, the fuzz settings and the contract tests are found
from these files. What is left is `python -m app makemigration -m "..."`.
"""

from __future__ import annotations

import keyword
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template

import app.models  # noqa: F401  (every table, to refuse a name in use)
from app.db.base import Base

ROOT = Path(__file__).resolve().parents[2]  # the project: pyproject.toml, app/, tests/
TEMPLATES = Path(__file__).with_name("templates")
_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


class ScaffoldError(Exception):
    """The name cannot be used, or the files would overwrite others."""


@dataclass(frozen=True, slots=True)
class Names:
    """Every spelling of the resource's name the files use, from `tag` (and `tags`)."""

    module: str  # tag: app/models/tag.py, tag_id
    names: str  # tags: the table, the URL, app/api/v1/endpoints/tags.py

    @property
    def mapping(self) -> dict[str, str]:
        words = self.module.split("_")
        return {
            "module": self.module,
            "names": self.names,
            "table": self.names,
            "path": self.names.replace("_", "-"),
            "Class": "".join(word.title() for word in words),
            "CONST": self.module.upper(),
            "human": " ".join(words),
            "Human": " ".join(words).capitalize(),
            "humans": self.names.replace("_", " "),
            "Humans": self.names.replace("_", " ").capitalize(),
        }


def plural(word: str) -> str:
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    return word + "s"


def names_for(name: str, plural_name: str | None = None) -> Names:
    """Checks NAME (singular, snake_case) and its plural; `ScaffoldError` if unusable."""
    names = plural_name or plural(name)
    for word in (name, names):
        if not _NAME.fullmatch(word) or keyword.iskeyword(word):
            raise ScaffoldError(f"{word!r}: use lower-case words joined by _, such as order_line")
    if name == names:
        raise ScaffoldError(f"{name!r}: its plural must differ from it (--plural)")
    if names in Base.metadata.tables:
        raise ScaffoldError(f"a table named {names!r} exists already")
    return Names(name, names)


def targets(names: Names, root: Path = ROOT) -> dict[str, Path]:
    """Template name -> the file it becomes."""
    return {
        "model": root / "app" / "models" / f"{names.module}.py",
        "schema": root / "app" / "schemas" / f"{names.module}.py",
        "service": root / "app" / "services" / f"{names.module}.py",
        "endpoint": root / "app" / "api" / "v1" / "endpoints" / f"{names.names}.py",
        "test": root / "tests" / f"test_{names.names}_api.py",
    }


def generate(names: Names, root: Path = ROOT) -> list[Path]:
    """Write the resource's files (refusing to overwrite any); returns their paths."""
    files = targets(names, root)
    taken = [path for path in files.values() if path.exists()]
    if taken:
        raise ScaffoldError(f"would overwrite {', '.join(str(path) for path in taken)}")
    for template, path in files.items():
        text = Template(TEMPLATES.joinpath(f"{template}.py.tmpl").read_text(encoding="utf-8"))
        path.write_text(text.substitute(names.mapping), encoding="utf-8")
    _format(list(files.values()), root)
    return list(files.values())


def _format(paths: list[Path], root: Path) -> None:
    """ruff's layout, so long names still pass `make lint` (when ruff is installed)."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        return
    for command in (["check", "--fix", "--quiet"], ["format", "--quiet"]):
        subprocess.run([ruff, *command, *map(str, paths)], check=False, cwd=root)
