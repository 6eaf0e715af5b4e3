"""Raw click logs -> clicks per page (Spark) -> the day's top pages (PostgreSQL)::

<lake>/raw/<date>/            RawClicks (external): page,user CSV with a header
<lake>/clicks_by_page/<date>/ CountClicks: page,clicks (scripts/count_clicks.py)
table top_pages               TopPages: date, rank, page, clicks
"""

from __future__ import annotations

import datetime

import luigi

from luigi_ufo import DatedTarget, ExternalSparkScriptTask, PostgresTopNTask
from luigi_ufo.dated import DatedTaskMixin, lake_target


class RawClicks(DatedTaskMixin, luigi.ExternalTask):
    """A day's raw click log, put into the lake by another system."""

    date: datetime.date = luigi.DateParameter()

    def output(self) -> DatedTarget:
        return lake_target("raw", self.date)


class CountClicks(DatedTaskMixin, ExternalSparkScriptTask):
    """Count a day's clicks per page with Spark."""

    date: datetime.date = luigi.DateParameter()
    script = "count_clicks.py"

    def requires(self) -> RawClicks:
        return RawClicks(date=self.date)

    def output(self) -> DatedTarget:
        return lake_target("clicks_by_page", self.date)


class TopPages(PostgresTopNTask):
    """Load the day's three most clicked pages into ``top_pages``."""

    date: datetime.date = luigi.DateParameter()
    table = "top_pages"
    n = 3
    rank_by = "clicks"
    key_columns = ("page",)
    column_types = {"page": "text", "clicks": "bigint"}  # noqa: RUF012 - read-only spec

    def requires(self) -> CountClicks:
        return CountClicks(date=self.date)
