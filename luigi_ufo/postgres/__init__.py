"""Atomic, idempotent top-N loads into PostgreSQL (``PostgresTopNTask``).

``ranking`` ranks (the tie rules, the input reader and the engines), ``sql`` composes statements,
``connection`` connects from ``[postgres_topn]``, ``load`` runs the one-transaction load (``swap``
replaces a partition's child table), ``target`` is the marker target and ``task`` the Luigi task.
"""

from __future__ import annotations

from luigi_ufo.postgres.connection import connect, transaction
from luigi_ufo.postgres.load import LoadResult, LoadSpec, load
from luigi_ufo.postgres.ranking.reader import ReadResult, read_records
from luigi_ufo.postgres.ranking.rules import TIES, Ranked, Record, Ties, top_n
from luigi_ufo.postgres.settings import ConnectionSettings
from luigi_ufo.postgres.sql import Column, TableName, TableSpec, parse_table_name
from luigi_ufo.postgres.target import PostgresMarkerTarget
from luigi_ufo.postgres.task import PostgresTopNTask

__all__ = [
    "TIES",
    "Column",
    "ConnectionSettings",
    "LoadResult",
    "LoadSpec",
    "PostgresMarkerTarget",
    "PostgresTopNTask",
    "Ranked",
    "ReadResult",
    "Record",
    "TableName",
    "TableSpec",
    "Ties",
    "connect",
    "load",
    "parse_table_name",
    "read_records",
    "top_n",
    "transaction",
]
