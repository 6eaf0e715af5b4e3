"""Every local process luigi-ufo starts, finds or stops.

The embedded and throwaway PostgreSQL (:mod:`.postgres`, :mod:`.shared_postgres`), a Spark
standalone cluster (:mod:`.spark_standalone`), the Spark Connect server (:mod:`.spark_connect`),
luigid (:mod:`.luigid`) and moto (:mod:`.moto`), as the CLI (``luigi-ufo db|dev|connect``) and
the pytest plugin's native backend run them; ``dev``'s topology (:mod:`.stack`). One way to know
a recorded pid is still ours and to stop a process tree (:mod:`.process`), one way to start a
service process with a log (:mod:`.service_process`) and to wait until it is ready
(:mod:`.readiness`).
"""
