"""The HTML page: self-contained (nothing to fetch, a policy forbidding it), text escaped."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from luigi_ufo.pictures import Facts, Figure, Note, Section, Table, html_page, write_page
from luigi_ufo.pictures.page import CSP

SVG = '<svg id="p" xmlns="http://www.w3.org/2000/svg"><text>drawn</text></svg>'


def page() -> str:
    return html_page(
        "Report <1>",
        [
            Section("Chart & more", [Figure("a caption", SVG)], id="chart"),
            Section(
                "Facts",
                [
                    Facts([("input", "<script>alert(1)</script>")], id="facts"),
                    Table(
                        ("reason", "records", "sample"),
                        [("x", 1234, "a<b")],
                        numeric=frozenset({1}),
                        code=frozenset({2}),
                        id="t",
                    ),
                    Note("a note"),
                ],
            ),
        ],
        subtitle="sub",
    )


def test_the_page_loads_nothing_and_forbids_loading_anything() -> None:
    html = page()
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html
    assert "default-src 'none'" in CSP
    assert not re.search(r"<(script|link|img|iframe|object)\b", html)
    assert not re.search(r"\b(src|href)=", html)
    # The only URL is the SVG namespace, an identifier that is never fetched.
    assert re.findall(r"https?://[^\"' ]+", html) == ["http://www.w3.org/2000/svg"]


def test_text_is_escaped_and_pictures_are_inlined_as_they_are() -> None:
    html = page()
    assert "<title>Report &lt;1&gt;</title>" in html
    assert "<h2>Chart &amp; more</h2>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<td class="num">1,234</td>' in html
    assert "<td><code>a&lt;b</code></td>" in html
    assert SVG in html
    assert '<section id="chart">' in html
    assert '<dl id="facts">' in html


def test_write_page_makes_the_directory_and_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "r.html"
    assert write_page(target, "old") == target
    assert write_page(target, page()) == target
    assert target.read_text(encoding="utf-8") == page()
    assert sorted(p.name for p in target.parent.iterdir()) == ["r.html"]  # no temporary left


def _python(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter (this one may have imported matplotlib already)."""
    out = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return out.stdout.split()


def test_warm_up_imports_the_drawing_library_in_the_background() -> None:
    code = (
        "import sys; from luigi_ufo.pictures.render import warm_up; "
        "assert 'matplotlib.figure' not in sys.modules; t = warm_up(); "
        "assert t.daemon; t.join(); "
        "m = sys.modules; print('matplotlib.figure' in m, 'matplotlib.backends.backend_svg' in m)"
    )
    assert _python(code) == ["True", "True"]


def test_a_fork_during_the_warm_up_waits_for_the_import_and_the_child_can_import() -> None:
    code = (
        "import os, sys; from luigi_ufo.pictures.render import warm_up; t = warm_up(); "
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    import matplotlib.figure; os._exit(0)\n"
        "print(t.is_alive(), os.waitpid(pid, 0)[1])"
    )
    assert _python(code) == ["False", "0"]


def test_warm_up_after_next_fork_starts_in_the_parent_once_it_forked() -> None:
    code = (
        "import os, sys, threading; from luigi_ufo.pictures import render\n"
        "render.warm_up_after_next_fork(); render.warm_up_after_next_fork()\n"
        "names = lambda: [t.name for t in threading.enumerate()]\n"
        "before = 'luigi-ufo-matplotlib-import' in names() or 'matplotlib.figure' in sys.modules\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    import matplotlib.figure; os._exit(0)\n"
        "after = 'luigi-ufo-matplotlib-import' in names() or 'matplotlib.figure' in sys.modules\n"
        "render.warm_up().join()\n"
        "print(before, after, 'matplotlib.figure' in sys.modules, os.waitpid(pid, 0)[1])"
    )
    assert _python(code) == ["False", "True", "True", "0"]
