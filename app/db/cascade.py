"""What `ON DELETE CASCADE` (and `SET NULL`) would do, written out as statements.

SQLite enforces foreign keys only on connections that switch them on; this
service's do, but a harness's own engine may not. Deleting a row through
`cascade_statements` removes (or unlinks) every row that depends on it on any
connection, derived from the foreign keys of the models: a new table that points
at users with `ondelete="CASCADE"` is covered without a line changed here.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    ForeignKey,
    Table,
    bindparam,
    delete,
    or_,
    select,
    update,
)

from app.db.base import Base


@cache
def cascade_statements(table_name: str, parameter: str) -> tuple[Executable, ...]:
    """Statements that delete the row of the table whose primary key is `:parameter`,
    and before it every row that depends on it, deepest first."""
    parent = Base.metadata.tables[table_name]
    (key,) = parent.primary_key.columns
    row_id: BindParameter[int] = bindparam(parameter, type_=key.type)
    statements: list[Executable] = []
    _dependents(parent, key == row_id, statements, (parent,), row_id)
    statements.append(delete(parent).where(key == row_id))
    return tuple(statements)


def _dependents(
    table: Table,
    rows: ColumnElement[bool],
    out: list[Executable],
    path: tuple[Table, ...],
    row_id: BindParameter[int] | None = None,
) -> None:
    """Append what `ON DELETE` does to other tables' rows when `rows` of `table` go."""

    def linked(key: ForeignKey) -> ColumnElement[bool]:
        if row_id is not None and key.column.primary_key:  # the one row: no subquery
            return key.parent == row_id
        return key.parent.in_(select(key.column).where(rows))

    for child in Base.metadata.sorted_tables:
        links = [key for key in child.foreign_keys if key.column.table is table]
        cascading = [key for key in links if (key.ondelete or "").upper() == "CASCADE"]
        if cascading and child not in path:  # a cycle would have no end
            doomed = or_(*(linked(key) for key in cascading))
            _dependents(child, doomed, out, (*path, child))  # theirs go first
            out.append(delete(child).where(doomed))
        for key in links:
            if (key.ondelete or "").upper() == "SET NULL":
                out.append(update(child).where(linked(key)).values({key.parent.name: None}))
