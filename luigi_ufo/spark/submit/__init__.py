"""Submit mode: a spec mapped onto spark-submit's argv, run by a supervisor owning its tree."""
