"""A small top-N TableSpec and hostile names for SQL tests, unit and integration alike."""

from __future__ import annotations

from typing import Any

from psycopg2 import sql

from luigi_ufo.postgres import sql as q

#: Names that would break out of their place if they were pasted into SQL text.
HOSTILE = [
    't"; DROP TABLE victim; --',
    "x; DROP TABLE victim",
    "a.b",
    'say "hi"',
    "città ☃ 東京",
    "Upper Case",
    "--",
    "'quoted'",
    "100%s_%(x)s",
]


def spec(table: Any = "t", name: str = "k", **kw: Any) -> q.TableSpec:
    """Return a spec of ``table``: partition ``day``, key ``name``, measure ``m``, ``rank``."""
    defaults: dict[str, Any] = {
        "partition": (q.Column("day", "date"),),
        "group": (),
        "key": (q.Column(name, "text"),),
        "measure": q.Column("m", "bigint"),
        "rank": q.Column("rank", "integer"),
    }
    defaults.update(kw)
    return q.TableSpec(table=q.parse_table_name(table), **defaults)


def statements_naming(name: str) -> list[sql.Composed]:
    """Return every composed statement of a load, with ``name`` as each identifier and value."""
    table_spec = spec(table=(name, name), name=name)
    marker = q.TableName(name)
    return [
        q.create_schema(name),
        q.create_table(table_spec),
        q.delete_partition(table_spec, [name]),
        q.copy_from_stdin(table_spec),
        q.create_marker_table(marker),
        q.upsert_marker(marker, name, table_spec.table),
        q.select_markers(marker, ["run", name], table_spec.table),
        q.delete_marker(marker, name, table_spec.table),
    ]
