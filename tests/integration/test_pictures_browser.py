"""The report and the gaps calendar, opened in a real headless Chromium (Debian's package).

Each page must load with no request but its own file and no blocked fetch; a screenshot must be
drawn; what the page shows must equal what the command printed and what an independent count
says: the report of the primary NUFORC file against its README's published answer and the tests'
own R1 counter, the gaps calendar against a lake built here with known missing and unflagged
dates, locally and on S3 (moto), where the requests are counted at the client.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from luigi_ufo.cli.main import main
from luigi_ufo.dated import DatedTarget
from luigi_ufo.s3 import S3Settings
from luigi_ufo.s3.client import default_client, make_client
from tests import ufo_exports
from tests.browser import Opened, chromium, open_file, screenshot_is_drawn
from tests.real_nuforc import PRIMARY, PRIMARY_RECORDS, PRIMARY_TOP, real_file

pytestmark = [pytest.mark.integration]

LUIGI_UFO = Path(sys.executable).with_name("luigi-ufo")
D = datetime.date
DAY = "2024-01-15"
START, STOP = D(2023, 12, 20), D(2024, 1, 13)  # --stop is exclusive: the last date is Jan 12
MISSING = {D(2023, 12, 24), D(2023, 12, 25), D(2024, 1, 3)}
UNFLAGGED = {D(2023, 12, 31), D(2024, 1, 7)}
DATES = [START + datetime.timedelta(days=i) for i in range((STOP - START).days)]
COMPLETE = set(DATES) - MISSING - UNFLAGGED


@pytest.fixture(scope="module")
def browser() -> Any:
    with chromium() as launched:
        yield launched


def luigi_ufo(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LUIGI_UFO), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def assert_self_contained(opened: Opened, path: Path) -> None:
    """The page made one request, for its own file, and nothing was blocked or failed."""
    assert opened.requests == [path.resolve().as_uri()]
    assert not [m for m in opened.console if "Refused" in m or "Failed to load" in m]


def assert_drawn(opened: Opened, png: Path) -> None:
    opened.page.screenshot(path=str(png), full_page=True)
    share, colours = screenshot_is_drawn(png.read_bytes())
    assert share > 0.05, f"{png}: only {share:.1%} of the pixels are drawn"
    assert colours > 50, f"{png}: {colours} colours"


def bar_width(opened: Opened, selector: str) -> float:
    return float(opened.page.locator(selector).evaluate("e => e.getBBox().width"))


# --- the report ----------------------------------------------------------------------------


@pytest.mark.slow
def test_report_of_the_primary_file_shows_the_answer_in_a_real_browser(
    home: dict[str, str], tmp_path: Path, browser: Any, luigid: Any
) -> None:
    primary = real_file(PRIMARY)
    run = luigi_ufo(home, tmp_path, "run", "--input", str(primary), "--date", DAY, "--json")
    assert run.returncode == 0, run.stderr[-4000:]
    doc = json.loads(run.stdout)
    report = Path(doc["report"])
    assert report.is_file()
    assert report.parent == Path(home["LUIGI_UFO_DATA_DIR"]) / "reports"
    want = ufo_exports.count_file(primary)  # the tests' own R1 counter

    opened = open_file(browser, report)
    assert_self_contained(opened, report)
    assert_drawn(opened, tmp_path / "report.png")

    # The top-N chart: a bar per row of --json, its label and number, in rank order.
    top = [(r["state"], r["sightings"]) for r in doc["top"]]
    assert top == PRIMARY_TOP  # the README's published answer
    assert opened.count('[id^="topn-chart-bar-"]') == len(top)
    shown = [
        (opened.text(f"#topn-chart-label-{i}"), opened.text(f"#topn-chart-value-{i}"))
        for i in range(len(top))
    ]
    assert shown == [(state, f"{n:,}") for state, n in top]
    # Bars are drawn to scale: width over value is the same for every bar.
    widths = [bar_width(opened, f"#topn-chart-bar-{i} path") for i in range(len(top))]
    scales = [w / n for w, (_, n) in zip(widths, top, strict=True)]
    assert max(scales) / min(scales) < 1.01, scales
    assert opened.count('[id^="topn-chart-left-out-"]') == 0  # the 10th (2,990) is no tie

    # The tile map: 51 squares, each labelled with the independent count of its state.
    assert opened.count('[id^="tile-map-tile-"]') == 51
    for state in ("CA", "DC", "HI", "WY"):
        assert opened.text(f"#tile-map-count-{state}") == f"{want.states.get(state, 0):,}"

    # The rejected records: a bar per reason with records, and the first record of each.
    rejected = {reason: n for reason, n in doc["rejected"].items() if n}
    assert rejected == dict(+want.rejected)
    assert opened.count('[id^="rejected-chart-bar-"]') == len(rejected)
    for reason, n in rejected.items():
        assert opened.text(f"#rejected-chart-value-{reason}") == f"{n:,}"
    samples = opened.page.locator("#rejected-samples tbody tr").all_inner_texts()
    assert len(samples) == len(rejected)
    header_sample = next(row for row in samples if row.startswith("repeated header"))
    assert "line " in header_sample
    assert header_sample.endswith("'Date / Time,City,State,Shape,Duration,Summary,Posted'")

    # The run's facts.
    facts = dict(
        zip(
            opened.page.locator("#run-facts dt").all_inner_texts(),
            opened.page.locator("#run-facts dd").all_inner_texts(),
            strict=True,
        )
    )
    assert facts["date"] == DAY
    assert facts["input file"] == str(primary)
    assert facts["encoding"] == "utf-8"
    assert facts["records read"] == f"{PRIMARY_RECORDS:,}"
    assert facts["counted"].startswith(f"{want.counted:,} in ")
    steps = opened.page.locator("#run-durations tbody tr").all_inner_texts()
    assert [row.split("\t")[0] for row in steps][-4:] == [
        "AggregateUFOsByState",
        "TopTenStates",
        "TopStatesToDatabase",
        "total",
    ]

    # `luigi-ufo report` rebuilds the same page from the lake and PostgreSQL; --open hands the
    # file to the default browser ($BROWSER here records what it is given).
    opened_urls = tmp_path / "opened.txt"
    recorder = tmp_path / "browser.sh"
    recorder.write_text(f'#!/bin/sh\necho "$1" >> {opened_urls}\n', encoding="utf-8")
    recorder.chmod(0o755)
    rebuilt = tmp_path / "again.html"
    env = {**home, "BROWSER": f"{recorder} %s"}
    again = luigi_ufo(env, tmp_path, "report", "--date", DAY, "--output", str(rebuilt), "--open")
    assert again.returncode == 0, again.stderr[-4000:]
    assert again.stdout.strip() == str(rebuilt)
    assert opened_urls.read_text(encoding="utf-8").split() == [rebuilt.as_uri()]
    second = open_file(browser, rebuilt)
    assert_self_contained(second, rebuilt)
    assert [second.text(f"#topn-chart-label-{i}") for i in range(len(top))] == [s for s, _ in top]

    # The same facts but the last, when the report was made (the run may end in that second too).
    def run_facts(page: Any) -> list[tuple[str, str]]:
        terms = page.page.locator("#run-facts dt").all_inner_texts()
        return list(zip(terms, page.page.locator("#run-facts dd").all_inner_texts(), strict=True))

    assert run_facts(opened)[-1][0] == "report made"
    assert run_facts(second)[:-1] == run_facts(opened)[:-1]

    # Under Luigi the report is a task whose tracking URL, on luigid's page, is the report.
    assert luigi_ufo(home, tmp_path, "db", "start").returncode == 0
    by_luigi = tmp_path / "by-luigi.html"
    try:
        built = subprocess.run(
            [sys.executable, "-m", "luigi", "--module", "luigi_ufo.ufo.report", "UfoReport",
             "--date", DAY, "--path", str(by_luigi), "--scheduler-url", luigid.url],
            env=home, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    finally:
        assert luigi_ufo(home, tmp_path, "db", "stop").returncode == 0
    assert by_luigi.is_file(), built.stderr[-4000:]
    done = [t for t in luigid.task_list("DONE").values() if t["name"] == "UfoReport"]
    assert [(t["params"]["date"], t["tracking_url"]) for t in done] == [(DAY, by_luigi.as_uri())]


# --- the gaps calendar -----------------------------------------------------------------------


def build_lake(target: Callable[[D], DatedTarget], put_unflagged: Callable[[D], None]) -> None:
    """Write complete dates with a flag, unflagged ones with data only, missing ones not at all."""
    for date in sorted(COMPLETE):
        with target(date).writer() as out:
            out.write_text("part-00000.csv", f"{date},1\n")
    for date in sorted(UNFLAGGED):
        put_unflagged(date)


def check_json(doc: dict[str, Any]) -> None:
    assert doc["start"] == START.isoformat()
    assert doc["stop"] == STOP.isoformat()
    assert set(doc["complete"]) == {d.isoformat() for d in COMPLETE}
    assert set(doc["missing"]) == {d.isoformat() for d in MISSING}
    assert set(doc["unflagged"]) == {d.isoformat() for d in UNFLAGGED}
    assert doc["ok"] is False


def test_gaps_calendar_of_a_local_lake_shows_exactly_its_gaps(
    home: dict[str, str], tmp_path: Path, browser: Any
) -> None:
    root = tmp_path / "lake" / "clicks"

    def unflagged(date: D) -> None:
        part = root / date.isoformat() / "part-00000.csv"
        part.parent.mkdir(parents=True)
        part.write_text("half\n", encoding="utf-8")

    build_lake(lambda date: DatedTarget(str(root), date), unflagged)
    span = ("--start", START.isoformat(), "--stop", STOP.isoformat())

    checked = luigi_ufo(home, tmp_path, "gaps", str(root), *span, "--json")
    assert checked.returncode == 1, checked.stderr
    doc = json.loads(checked.stdout)
    check_json(doc)
    assert doc["requests"] == 1  # one listing of the dataset

    page = tmp_path / "gaps.html"
    shown = luigi_ufo(home, tmp_path, "gaps", str(root), *span, "--html", str(page))
    assert shown.returncode == 1, shown.stderr
    assert "missing: 2023-12-24..2023-12-25, 2024-01-03" in shown.stdout
    assert "unflagged: 2023-12-31, 2024-01-07" in shown.stdout
    assert "checked with 1 storage request" in shown.stdout

    opened = open_file(browser, page)
    assert_self_contained(opened, page)
    assert_drawn(opened, tmp_path / "gaps.png")
    fill = "e => getComputedStyle(e).fill"
    legend = {
        state: opened.page.locator(f"#gaps-calendar-legend-{state} path").evaluate(fill)
        for state in ("complete", "missing", "unflagged")
    }
    assert len(set(legend.values())) == 3
    days = opened.page.locator('[id^="gaps-calendar-day-"]')
    drawn = {
        D.fromisoformat(str(days.nth(i).get_attribute("id")).rsplit("-day-", 1)[1]): days.nth(i)
        .locator("path")
        .evaluate(fill)
        for i in range(days.count())
    }
    assert sorted(drawn) == DATES  # the range's days, no day outside it
    states = {s: {d for d, f in drawn.items() if f == colour} for s, colour in legend.items()}
    assert states == {"complete": COMPLETE, "missing": MISSING, "unflagged": UNFLAGGED}
    assert "2 unflagged; 1 storage request" in opened.text("#gaps-calendar-summary")

    # A range with every date complete exits 0.
    whole = luigi_ufo(
        home, tmp_path, "gaps", str(root), "--start", "2024-01-08", "--stop", "2024-01-13"
    )
    assert whole.returncode == 0, whole.stdout + whole.stderr


def test_gaps_of_an_s3_lake_counts_the_requests_it_sent(
    s3_endpoint: str,
    s3_bucket: str,
    luigi_config: Callable[[str, str, str], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    writer = make_client(S3Settings(endpoint_url=s3_endpoint, path_style=True))
    root = f"s3://{s3_bucket}/lake/clicks"

    def unflagged(date: D) -> None:
        key = f"lake/clicks/{date.isoformat()}/part-00000.csv"
        writer.put_object(Bucket=s3_bucket, Key=key, Body=b"half\n")

    build_lake(lambda date: DatedTarget(root, date, client=writer), unflagged)
    luigi_config("s3_endpoint", "endpoint_url", s3_endpoint)
    luigi_config("s3_endpoint", "path_style", "true")
    sent: list[str] = []
    default_client().meta.events.register(  # the client `gaps` uses, counted as it sends
        "before-send", lambda request, **_: sent.append(request.url)
    )
    capsys.readouterr()
    code = main(["gaps", root, "--start", START.isoformat(), "--stop", STOP.isoformat(), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    check_json(doc)
    assert doc["requests"] == len(sent) == 1, sent
