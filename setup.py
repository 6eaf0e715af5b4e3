"""Package list for setuptools: every package under luigi_ufo/, found, plus the mapped scripts.

setup.cfg holds everything else. The list cannot live there: its ``packages = find:`` takes one
search root, and luigi_ufo.scripts is src/spark (``package_dir``), outside luigi_ufo/. A package
added to the tree ships without an edit here; tests/integration/test_packaging.py checks the
built wheel and sdist against the tree.
"""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["luigi_ufo", "luigi_ufo.*"]), "luigi_ufo.scripts"])
