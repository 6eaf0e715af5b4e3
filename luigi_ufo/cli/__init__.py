"""``luigi-ufo``: the command line (run and demo the reference pipeline, db, dev, connect).

The console script is :func:`luigi_ufo.cli.main.console`; :func:`luigi_ufo.cli.main.main` runs a
command and returns its exit status.
"""
