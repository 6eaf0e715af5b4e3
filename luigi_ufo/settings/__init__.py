"""Settings: one declaration per setting (:mod:`.fields`), derived ``luigi.Config`` sections and
luigi.cfg checks (:mod:`.sections`)."""
