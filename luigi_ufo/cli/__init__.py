"""``luigi-ufo``: the command line (run and demo the reference pipeline, db, dev, connect).

The entry point is :func:`luigi_ufo.cli.main.main`.
"""
