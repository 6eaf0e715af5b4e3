"""Shared test configuration: the service fixtures come from the luigi_ufo.testing plugin.

It is registered through the ``pytest11`` entry point, so nothing needs to be imported here;
``-p pytester`` (child sessions for the harness's own tests) is enabled in tox.ini.
"""

# A user's own project (its own pyproject, luigi.cfg and tests), run by
# tests/integration/test_example_project.py in a venv with the built wheel; not part of this suite.
collect_ignore = ["example_project"]
