"""Which environment variables are credentials: masked by value, and kept from spark-submit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Credential variables the plugin documents (AWS for S3, libpq for PostgreSQL): their values
#: are masked wherever they appear. ``[spark_script] secret_env`` names more.
CREDENTIAL_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "PGPASSWORD")
#: Credentials Spark does not need: not in spark-submit's environment unless the task's ``env``
#: sets them.
WITHHELD_ENV = ("PGPASSWORD",)


def submit_environment(environ: Mapping[str, str], env: Mapping[str, str]) -> dict[str, str]:
    """Return the base environment of spark-submit: ``environ`` without withheld credentials.

    ``env`` is the task's own environment for spark-submit: a withheld variable it sets is
    passed (that is how a user asks for it).
    """
    return {k: v for k, v in environ.items() if k not in WITHHELD_ENV or k in env}


def credential_values(envs: Iterable[Mapping[str, str]], extra: Iterable[str] = ()) -> list[str]:
    """Return the non-empty values of every credential variable (and of ``extra``) in ``envs``."""
    names = (*CREDENTIAL_ENV, *extra)
    return sorted({env[name] for env in envs for name in names if env.get(name)})
