"""`makemigration`: numbered revisions, portable server defaults, names of every column.

The full round (a new model, its migration written, applied and checked) runs in
tests/test_new_resource.py on a scratch copy of the repository.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from app.db import migrate
from app.db.base import NAMING_CONVENTION
from app.db.migrate import MIGRATIONS_DIR, alembic_config, next_revision


def test_the_next_revision_follows_the_highest_number(tmp_path: Path) -> None:
    shutil.copytree(MIGRATIONS_DIR, tmp_path / "migrations")
    config = alembic_config("sqlite+aiosqlite://")
    config.set_main_option("script_location", str(tmp_path / "migrations"))
    head = next_revision(config)
    later = f"{int(head) + 40:04d}"
    (tmp_path / "migrations" / "versions" / f"{later}_later.py").write_text(
        f'revision = "{later}"\ndown_revision = "{int(head) - 1:04d}"\n'
        "branch_labels = None\ndepends_on = None\n"
        "def upgrade() -> None: ...\ndef downgrade() -> None: ...\n"
    )
    assert next_revision(config) == f"{int(head) + 41:04d}"


def test_nothing_is_written_when_models_and_migrations_agree() -> None:
    before = sorted(MIGRATIONS_DIR.joinpath("versions").glob("*.py"))
    with pytest.raises(migrate.NoChangesError):
        migrate.make_migration("nothing to do")
    assert sorted(MIGRATIONS_DIR.joinpath("versions").glob("*.py")) == before


def _column(server_default: Any) -> sa.Column[Any]:
    return sa.Column("value", sa.String(20), server_default=server_default)


@pytest.mark.parametrize(
    ("server_default", "rendered"),
    [
        (sa.func.current_timestamp(), "sa.func.current_timestamp()"),
        (sa.true(), "sa.true()"),
        (sa.false(), "sa.false()"),
        ("PENDING", "'PENDING'"),
        (sa.text("0"), "sa.text('0')"),
    ],
)
def test_server_defaults_are_rendered_for_every_back_end(
    server_default: Any, rendered: str
) -> None:
    default = _column(server_default).server_default
    assert migrate.render_item("server_default", default, None) == rendered
    # What the migration says builds the same column on both back ends.
    table = sa.Table("t", sa.MetaData(), _column(eval(rendered, {"sa": sa})))
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        assert "DEFAULT" in str(CreateTable(table).compile(dialect=dialect))


def test_constraints_on_several_columns_are_named_after_all_of_them() -> None:
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    table = sa.Table(
        "tags",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("name", sa.String(50)),
        sa.UniqueConstraint("owner_id", "name"),
        sa.Index(None, "owner_id", "name", "id"),
    )
    sa.Table("users", metadata, sa.Column("id", sa.Integer, primary_key=True))
    ddl = str(CreateTable(table).compile(dialect=postgresql.dialect()))
    assert "CONSTRAINT uq_tags_owner_id_name UNIQUE (owner_id, name)" in ddl
    assert "CONSTRAINT fk_tags_owner_id_users" in ddl
    (index,) = table.indexes
    assert "ix_tags_owner_id_name_id" in str(CreateIndex(index).compile())
