"""Side-by-side benchmarks of luigi-ufo against the tools a user would otherwise use.

Run ``python -m benchmarks [--quick] [--only NAME]``. Each benchmark module ``bench_<name>.py``
defines ``NAME``, ``TITLE`` and ``run(quick: bool) -> list[Row]``; see ``_common``.
"""
