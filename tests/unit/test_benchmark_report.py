"""docs/performance.md and the README's performance lines are rendered from the stored results."""

from __future__ import annotations

from benchmarks import report


def test_performance_page_is_the_rendering_of_the_stored_results() -> None:
    # After a benchmark run: python -m benchmarks.report
    assert report.DOC.read_text(encoding="utf-8") == report.render()


def test_readme_figures_are_the_rendering_of_the_stored_results() -> None:
    readme = report.README.read_text(encoding="utf-8")
    assert report.readme_block(readme) == report.readme_summary()
