"""The generated reference (settings, command line, `.env.example`) matches the code."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from app import reference
from app.cli import build_parser, cmd_docs
from app.config import Settings


def test_committed_reference_is_what_the_code_generates() -> None:
    stale = reference.stale(build_parser())
    assert stale == [], (
        f"{', '.join(map(str, stale))} out of date: run `{reference.REGENERATE}` (or `make docs`)"
        " and commit the result"
    )


def test_write_creates_every_document_and_then_nothing_is_stale(tmp_path: Path) -> None:
    parser = build_parser()
    assert sorted(reference.write(parser, tmp_path)) == sorted(reference.documents(parser))
    assert reference.stale(parser, tmp_path) == []
    (tmp_path / ".env.example").write_text("# edited by hand\n")
    assert reference.stale(parser, tmp_path) == [Path(".env.example")]


def test_every_setting_has_a_section_and_an_entry() -> None:
    listed = [name for _, fields in reference.sections() for name, _ in fields]
    assert listed == list(Settings.model_fields)
    page = reference.settings_markdown()
    for name in Settings.model_fields:
        assert f"### `{name.upper()}`" in page


def test_env_example_uncommented_loads_its_documented_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(reference.env_name(name), raising=False)
    assignments = [
        line.removeprefix("# ")
        for line in reference.env_example().splitlines()
        if line.startswith("# ") and "=" in line and line[2:].split("=")[0].isupper()
    ]
    assert [line.split("=")[0] for line in assignments] == [
        reference.env_name(name) for name in Settings.model_fields
    ]
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(line for line in assignments if not line.endswith("=")))
    loaded = Settings(_env_file=env_file)  # type: ignore[call-arg]
    for name, field in Settings.model_fields.items():
        expected: Any = field.get_default(call_default_factory=True)
        if expected in (None, "", []) and field.examples:
            expected = field.examples[0]
        assert getattr(loaded, name) == expected, name


def test_markdown_links_setting_names_and_escapes_angle_brackets() -> None:
    text = "Uses `WORKERS` and HOST, not `DATA_DIR/app.db` nor SIGTERM; <id> `<b>`"
    assert reference.markdown_text(text, settings_page="settings.md") == (
        "Uses [`WORKERS`](settings.md#workers) and [`HOST`](settings.md#host), not "
        "`DATA_DIR/app.db` nor SIGTERM; &lt;id&gt; `<b>`"
    )


def test_docs_command_checks_writes_and_refuses_outside_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(reference, "ROOT", tmp_path)
    assert cmd_docs(argparse.Namespace(check=True)) == 2  # no pyproject.toml: not a checkout
    (tmp_path / "pyproject.toml").touch()
    assert cmd_docs(argparse.Namespace(check=True)) == 1
    assert "docs/reference/settings.md is out of date: run `python -m app docs`" in (
        capsys.readouterr().err
    )
    assert cmd_docs(argparse.Namespace(check=False)) == 0
    assert cmd_docs(argparse.Namespace(check=True)) == 0
    assert (tmp_path / ".env.example").read_text() == reference.env_example()
