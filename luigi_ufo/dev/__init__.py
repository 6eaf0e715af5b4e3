"""``luigi-ufo dev``: the cluster topology on one machine, without Docker.

luigid, a Spark standalone master with workers, the per-user PostgreSQL and, optionally, a moto S3
lake and a warm Spark Connect server, all on loopback; a luigi.cfg pointing the plugin at them
(:mod:`.cfg`), and a state file recording what runs (:mod:`.state`), so that ``status`` and
``stop`` (or a second ``dev``) find it. :mod:`.services` starts and stops them; :mod:`.cli` is
the command.
"""
