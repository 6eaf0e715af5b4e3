"""Atomic, idempotent top-N loads into PostgreSQL (``PostgresTopNTask``).

``topn`` ranks (pure), ``reader`` reads input rows, ``sql`` composes statements, ``connection``
connects from ``[postgres_topn]``, ``load`` runs the one-transaction load, ``target`` is the
marker target and ``task`` the Luigi task. ``server`` runs a throwaway PostgreSQL cluster.
"""

from __future__ import annotations

from luigi_ufo.postgres.connection import ConnectionSettings, connect, transaction
from luigi_ufo.postgres.load import LoadResult, LoadSpec, load
from luigi_ufo.postgres.reader import ReadResult, read_records
from luigi_ufo.postgres.sql import Column, TableName, TableSpec, parse_table_name
from luigi_ufo.postgres.target import PostgresMarkerTarget
from luigi_ufo.postgres.task import PostgresTopNTask
from luigi_ufo.postgres.topn import TIES, Ranked, Record, Ties, top_n

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
