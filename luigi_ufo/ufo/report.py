"""The reference pipeline's report of a date: one self-contained HTML page a person looks at.

It shows the top-N chart (ties at the cut marked), a US tile map shaded by sightings, the
rejected records by reason with the first record of each, and the run's facts. Everything comes
from what the date left behind: the top table from PostgreSQL, the counts, rejected counts and
samples from the lake, the input from the raw partition's lineage record, and how it ran from
the run record ``luigi-ufo run`` keeps (:mod:`luigi_ufo.ufo.run_record`). So ``luigi-ufo report
--date D`` rebuilds it at any time, and :class:`UfoReport` builds it under Luigi, where its
tracking URL points luigid's page at the file.
"""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass, field
from pathlib import Path

import luigi

from luigi_ufo import __version__
from luigi_ufo.dated import DatedDataset, DatedTarget
from luigi_ufo.paths import data_dir
from luigi_ufo.pictures.page import (
    Block,
    Facts,
    Figure,
    Note,
    Section,
    Table,
    html_page,
    write_page,
)
from luigi_ufo.pictures.render import BAR, INK, MUTED, axes_in_inches, new_figure, styled, svg_text
from luigi_ufo.pictures.topn import TopNRow, find_cut, format_value, topn_chart
from luigi_ufo.ufo.results import RunSummary, _rows, read_summary
from luigi_ufo.ufo.run_record import RunRecord, read_record
from luigi_ufo.ufo.settings import UfoSettings
from luigi_ufo.ufo.tasks import AggregateUFOsByState, TopStatesToDatabase, ufo_target
from luigi_ufo.ufo.tile_map import TILES, tile_map

#: The steps of a run in the order they happen (as ``luigi-ufo run`` times them).
STEPS = (
    "check input",
    "PostgreSQL start",
    "ImportUFOExport",
    "AggregateUFOsByState",
    "TopTenStates",
    "TopStatesToDatabase",
)


@dataclass(frozen=True)
class ReportData:
    """What the report of a date shows, read from PostgreSQL and the lake."""

    date: datetime.date
    top: list[tuple[int, str, int]]
    states: dict[str, int]
    rejected: dict[str, int]
    samples: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    source_identity: str | None = None
    finished: dict[str, float] = field(default_factory=dict)
    record: RunRecord | None = None
    lake: str = ""
    table: str = ""

    @property
    def counted(self) -> int:
        """Return the records counted under a state."""
        return sum(self.states.values())

    @property
    def records(self) -> int:
        """Return every record read after each file's header: counted plus rejected."""
        return self.counted + sum(self.rejected.values())


def report_path(date: datetime.date) -> Path:
    """Return where the report of ``date`` goes by default: ``<data dir>/reports/``."""
    return data_dir() / "reports" / f"ufo-{date.isoformat()}.html"


def read_report_data(date: datetime.date, summary: RunSummary | None = None) -> ReportData:
    """Read what the report of ``date`` shows (the date must have been run); ``summary``: the
    run's own results, else read from PostgreSQL and the lake."""
    summary = summary or read_summary(date)
    outputs = AggregateUFOsByState(date=date).output()  # type: ignore[no-untyped-call]
    states = dict(_rows(outputs["states"], ("state", "sightings")))
    raw = ufo_target("raw", date)
    lineage = raw.read_lineage() or {}
    inputs = lineage.get("inputs") or [{}]
    settings = UfoSettings.from_config()
    finished = {}
    for name in ("raw", "by_state", "top_states"):
        when = DatedDataset(settings.dataset(name)).scan(date, date).finished.get(date)
        if when is not None:
            finished[name] = when
    return ReportData(
        date=date,
        top=summary.top,
        states=states,
        rejected=summary.rejected,
        samples=read_samples(outputs.get("samples")),
        source=inputs[0].get("input"),
        source_identity=inputs[0].get("identity"),
        finished=finished,
        record=read_record(date),
        lake=settings.lake,
        table=TopStatesToDatabase(date=date).table,
    )


def read_samples(target: DatedTarget | None) -> dict[str, str]:
    """Return the first rejected record of each reason (empty when the date has none kept)."""
    if target is None or not target.exists():
        return {}
    samples: dict[str, str] = {}
    for name in target.iter_parts():
        with target.open_part(name, newline="") as fh:
            reader = csv.reader(fh)
            if next(reader, None) != ["reason", "sample"]:
                return {}  # not a samples part: say nothing rather than something wrong
            samples.update((reason, sample) for reason, sample in reader)
    return samples


def rejected_chart(rejected: dict[str, int], *, name: str = "rejected-chart") -> str:
    """Return the SVG bar chart of the rejected records, a bar per reason with records."""
    shown = sorted(((r, n) for r, n in rejected.items() if n), key=lambda kv: (-kv[1], kv[0]))
    with styled():
        labels = [reason.replace("_", " ") for reason, _ in shown]
        left = 0.25 + 0.075 * max((len(label) for label in labels), default=1)
        figure = new_figure(7.5, 0.75 + 0.34 * max(len(shown), 1), constrained=False)
        ax = axes_in_inches(figure, left=left, bottom=0.6, right=0.2, top=0.15)
        top = max((n for _, n in shown), default=1)
        for i, (reason, n) in enumerate(shown):
            bar = ax.barh(-i, n, height=0.7, color=BAR)[0]
            bar.set_gid(f"{name}-bar-{reason}")
            ax.text(
                n + 0.01 * top,
                -i,
                f"{n:,}",
                va="center",
                color=INK,
                fontsize=9,
                gid=f"{name}-value-{reason}",
            )
        ax.set_yticks([-i for i in range(len(shown))], labels)
        ax.set_xlim(0, top * 1.15)
        ax.tick_params(colors=MUTED)
        ax.xaxis.set_major_formatter("{x:,.0f}")
        ax.set_xlabel("records", color=MUTED)
        return svg_text(figure, name=name)


def report_page(data: ReportData) -> str:
    """Return the HTML report of ``data``."""
    record = data.record
    n = record.top if record is not None else len(data.top)
    rows = [TopNRow(state, sightings, rank) for rank, state, sightings in data.top]
    cut = find_cut(rows, n, data.states.items())
    top_caption = (
        f"Counted records per state (rule R1), the top {n} as loaded into {data.table}."
        + (
            f" Place {n} is a tie at {format_value(cut.value or 0)}: "
            f"{', '.join([*cut.tied, *(r.label for r in cut.left_out)])}; states with equal "
            "counts are ranked by code."
            if cut.is_tie
            else ""
        )
    )
    counts = {code: data.states.get(code, 0) for code in TILES}
    sections = [
        Section(
            f"Top {n} states",
            [
                Figure(
                    top_caption,
                    topn_chart(
                        rows,
                        n,
                        others=data.states.items(),
                        value_label="sightings",
                        name="topn-chart",
                    ),
                ),
            ],
            id="top",
        ),
        Section(
            "Sightings by state",
            [
                Figure(
                    "One square per state and DC, shaded by its counted sightings.",
                    tile_map(counts, name="tile-map"),
                )
            ],
            id="map",
        ),
        _rejected_section(data),
        Section("The run", _run_blocks(data), id="run"),
    ]
    source = data.source or (record.source if record else None) or "an unrecorded input"
    return html_page(
        f"UFO sightings, {data.date.isoformat()}",
        sections,
        subtitle=f"luigi-ufo {__version__} report on {source}",
    )


def _rejected_section(data: ReportData) -> Section:
    rejected = sum(data.rejected.values())
    if not rejected:
        return Section("Rejected records", [Note("No record was rejected.")], id="rejected")
    share = rejected / data.records if data.records else 0.0
    rows = [
        (reason.replace("_", " "), n, data.samples.get(reason, "(not kept)"))
        for reason, n in sorted(data.rejected.items(), key=lambda kv: (-kv[1], kv[0]))
        if n
    ]
    return Section(
        "Rejected records by reason",
        [
            Figure(
                f"{rejected:,} of {data.records:,} records ({share:.1%}) were not counted, "
                "each under one reason.",
                rejected_chart(data.rejected),
            ),
            Table(
                ("reason", "records", "first such record"),
                rows,
                numeric=frozenset({1}),
                code=frozenset({2}),
                id="rejected-samples",
            ),
        ],
        id="rejected",
    )


def _run_blocks(data: ReportData) -> list[Block]:
    record = data.record
    facts = [("date", data.date.isoformat())]
    if data.source or record:
        facts.append(("input file", data.source or (record.source if record else "")))
    if data.source_identity and data.source_identity.startswith("content:"):
        _, size, digest = data.source_identity.split(":", 2)
        facts.append(("input size and sha256", f"{int(size):,} bytes, {digest}"))
    if record is not None:
        facts += [
            ("encoding", record.encoding),
            (
                "delimiter, country rule, decode errors",
                f"{record.delimiter!r}, {record.country_rule}, {record.decode_errors}",
            ),
        ]
    facts += [
        ("records read", f"{data.records:,}"),
        ("counted", f"{data.counted:,} in {len(data.states)} states"),
        ("rejected", f"{sum(data.rejected.values()):,}"),
        ("top-N table", f"{data.table} ({len(data.top)} rows of {data.date})"),
        ("lake", data.lake),
    ]
    if record is not None:
        facts.append(("run", f"luigi-ufo {record.command}, finished {record.finished}"))
    facts.append(("report made", _now()))
    blocks: list[Block] = [Facts(facts, id="run-facts")]
    if record is not None and record.seconds:
        steps = [s for s in STEPS if s in record.seconds]
        steps += [s for s in record.seconds if s not in steps and s != "total"]
        rows = [(step, f"{record.seconds[step]:.1f} s") for step in steps]
        if "total" in record.seconds:
            rows.append(("total", f"{record.seconds['total']:.1f} s"))
        blocks.append(Table(("step", "duration"), rows, numeric=frozenset({1}), id="run-durations"))
    else:
        blocks.append(
            Note(
                "How this date ran (settings, durations) was not recorded: it was built without "
                "`luigi-ufo run`. When each output was completed:"
            )
        )
        blocks.append(
            Table(
                ("output", "completed"),
                [(name, _when(ts)) for name, ts in data.finished.items()],
                id="run-finished",
            )
        )
    return blocks


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _when(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return moment.isoformat(timespec="seconds")


def write_report(
    date: datetime.date, path: str | Path | None = None, summary: RunSummary | None = None
) -> Path:
    """Write the report of ``date`` (default :func:`report_path`); return its absolute path."""
    return write_page(path or report_path(date), report_page(read_report_data(date, summary)))


class UfoReport(luigi.Task):
    """The HTML report of a date, after its load; its tracking URL is the report's file.

    ``python -m luigi --module luigi_ufo.ufo.report UfoReport --date D``: luigid's task list
    then links to the report (a ``file://`` URL, which a browser opens from a local scheduler's
    page; from a remote one, copy the link or set ``--path`` to a served directory).
    """

    date = luigi.DateParameter()
    path = luigi.Parameter(default="", description="where to write (default <data dir>/reports)")

    def requires(self) -> TopStatesToDatabase:
        return TopStatesToDatabase(date=self.date)

    def output(self) -> luigi.LocalTarget:
        path = Path(str(self.path) or report_path(self.date)).absolute()
        return luigi.LocalTarget(str(path))  # type: ignore[no-untyped-call]

    def run(self) -> None:
        written = write_report(self.date, self.output().path)
        tracking = getattr(self, "set_tracking_url", None)  # set only inside a Luigi worker
        if callable(tracking):
            tracking(written.as_uri())
