"""External PySpark scripts of the reference pipeline, installed as ``luigi_ufo.scripts``.

Each script is a plain program (``main(argv) -> int`` with argparse) that imports neither luigi
nor luigi_ufo, so ``spark-submit`` runs it by path exactly as ExternalSparkScriptTask does.
"""
