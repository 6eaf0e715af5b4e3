"""Credentials: which names and values are secrets, refusing them in configuration, masking them.

The one home of the credential rule. A *name* (a Spark or Hadoop property, an environment
variable, a ``name=`` inside a value) names a credential when one of its words is a credential
word (password, secret, token, key, auth, ...) and no word after it says the name only
*describes* one (``...credentials.provider``, ``...key.file``, ``AWS_ACCESS_KEY_ID``). A *value*
holds a credential when it carries a URL with ``user:password@``, a ``name=value`` pair whose name
is a credential (``-D...password=``, ``;token=``, a libpq ``password=``), an ``Authorization``
scheme (``Bearer ...``), a PEM private key or a token of a well-known format. Configuration that
holds either is refused without showing the value (:func:`refuse_credentials`); values that are
secrets are masked in every escaped form they may be printed in (:func:`mask`).
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn

from luigi_ufo.errors import ConfigError

MASK = "***"
#: The token of a Spark Connect server: read from the environment by pyspark and the server.
TOKEN_ENV = "SPARK_CONNECT_AUTHENTICATE_TOKEN"  # noqa: S105 - a variable name, not a value
#: Credential variables the plugin documents (AWS for S3, libpq for PostgreSQL, the Connect
#: token): their values are masked wherever they appear, whatever their length.
CREDENTIAL_ENV = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "PGPASSWORD",
    TOKEN_ENV,
)
#: Credentials Spark does not need: kept from spark-submit unless the task's ``env`` sets them.
WITHHELD_ENV = ("PGPASSWORD",)
#: A variable whose name looks like a credential is masked only from this length on: masking
#: ``1`` or ``yes`` would garble every line and hide nothing.
_INFERRED_MIN_LENGTH = 6

# Words that make a name a credential when they appear inside one of its words ...
_STRONG = ("password", "passwd", "passphrase", "secret", "token", "credential", "apikey")
_STRONG_EXCEPT = frozenset({"tokenizer", "tokenize"})
# ... or when they are one of its words.
_WEAK = frozenset({"key", "keys", "pwd", "pw", "pass", "auth", "authorization", "sas", "sig"})
# Words after the credential word that make the name describe a credential instead of holding
# one: a class, a file, a length, an identifier, a switch, a user name.
_DESCRIPTORS = frozenset(
    {
        "provider", "providers", "type", "class", "classname", "factory", "file", "files",
        "path", "dir", "location", "store", "algorithm", "alg", "length", "size", "bits",
        "enabled", "enable", "disabled", "required", "id", "name", "user", "username", "mode",
        "method", "version", "url", "uri", "endpoint", "expiry", "expiration", "lifetime",
        "ttl", "interval", "timeout", "ratio", "renewal", "wait", "retries", "cache", "scheme",
        "principal", "keytab", "sock", "socket", "count", "format", "encoding", "header",
        "binding", "keyfile", "email", "renewer",
    }
)  # fmt: skip
#: Names that look like credentials but hold none (a path, a mode, the shell's directory).
_NOT_CREDENTIALS = frozenset(
    {"GOOGLE_APPLICATION_CREDENTIALS", "PWD", "OLDPWD", "spark.kerberos.renewal.credentials"}
)
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^/\s@:?#]*:[^/\s@?#]+@")
_URL_PASSWORD_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^/\s@:?#]*:([^/\s@?#]+)@")
_PAIR = re.compile(r"""(?:^|[\s?&;,"'{(])(-D|--?)?([A-Za-z_][\w.\-]*)\s*=\s*(?=[^\s&;,"'])""")
_JSON_PAIR = re.compile(r"""["']([A-Za-z_][\w.\-]*)["']\s*:\s*["'][^"']""")
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}")
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_KNOWN_TOKENS = re.compile(
    r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{20,}|xox[abprs]-[\w-]{10,}"
    r"|sk-[A-Za-z0-9_\-]{20,}|AIza[0-9A-Za-z_\-]{35}|eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]+)"
)

# Where each kind of value should come from instead of luigi.cfg, by section.
HINTS = {
    "postgres_topn": "put the password in PGPASSWORD or ~/.pgpass (PGPASSFILE, mode 0600), "
    "which libpq reads itself",
    "s3_endpoint": "let the AWS credential chain find the keys (AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY in the environment, AWS_PROFILE, an instance role)",
    "spark_script": "put the property in a private (chmod 600) [spark_script] properties_file, "
    "which spark-submit reads from disk, never from argv",
    "env": "export the variable in the Luigi worker's environment (spark-submit inherits it) "
    "and name it in [spark_script] secret_env, so its value is masked",
    "connect_url": f"export {TOKEN_ENV} (a server `luigi-ufo connect start` started writes its "
    "token to a private file that clients of the same user read)",
}


def words(name: str) -> list[str]:
    """Split a property or variable name into lower-case words (``keyStorePassword``: 3)."""
    return [w.lower() for part in re.split(r"[^A-Za-z0-9]+", name) for w in _WORDS.findall(part)]


def _is_credential_word(word: str) -> bool:
    if word in _WEAK:
        return True
    return word not in _STRONG_EXCEPT and any(s in word for s in _STRONG)


def is_credential_name(name: str) -> bool:
    """Tell whether ``name`` (a property, variable or parameter name) names a credential."""
    if name in _NOT_CREDENTIALS:
        return False
    found = words(name)
    last = max((i for i, w in enumerate(found) if _is_credential_word(w)), default=None)
    return last is not None and not any(w in _DESCRIPTORS for w in found[last + 1 :])


def credential_shape(text: str) -> str | None:
    """Return what credential ``text`` holds (its shape, never the value), or None."""
    if _URL_PASSWORD.search(text):
        return "a URL with a password (user:password@)"
    for match in _PAIR.finditer(text):
        prefix, name = match.group(1) or "", match.group(2)
        if is_credential_name(name):
            return f"a credential {name!r} ({prefix}{name}=...)"
    for match in _JSON_PAIR.finditer(text):
        if is_credential_name(match.group(1)):
            return f"a credential {match.group(1)!r} (a JSON member)"
    scheme = _AUTH_SCHEME.search(text)
    if scheme:
        return f"an Authorization value ({scheme.group(1).title()} ...)"
    if _PEM.search(text):
        return "a private key (PEM)"
    if _KNOWN_TOKENS.search(text):
        return "a token of a well-known format"
    return None


def hint_for(section: str, setting: str) -> str:
    """Say where the credential of ``[section] setting`` should come from instead."""
    if section == "spark_script" and setting in ("env", "connect_url"):
        return HINTS[setting]
    return HINTS.get(
        section, "take it from the environment or a private (chmod 600) file, never luigi.cfg"
    )


def refuse(where: str, what: str, hint: str) -> NoReturn:
    """Raise the ConfigError of a credential found at ``where`` (``what`` never the value)."""
    raise ConfigError(
        f"{where} {what}, which looks like a credential; configuration must not hold one (its "
        f"value is not shown): {hint}"
    )


def refuse_credentials(where: str, value: Any, hint: str, *, names: bool = True) -> None:
    """Raise ConfigError if ``value`` (text, list or mapping) holds a credential.

    A mapping's keys are checked as names too, unless ``names`` is false (an environment
    mapping passed by environment, not argv, may name credentials: that is how they travel).
    """
    for place, name, text in _items(where, value):
        if names and name is not None and is_credential_name(name):
            refuse(place, f"has key {name!r}", hint)
        shape = credential_shape(text)
        if shape is not None:
            refuse(place, f"holds {shape}", hint)


def _items(where: str, value: Any) -> Iterator[tuple[str, str | None, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield f"{where}[{str(key)!r}]", str(key), str(item)
    elif isinstance(value, (list, tuple)):
        for n, item in enumerate(value):
            yield f"{where}[{n}]", None, str(item)
    elif value is not None:
        yield where, None, str(value)


def credential_values(envs: Iterable[Mapping[str, str]], extra: Iterable[str] = ()) -> list[str]:
    """Return the secret values in ``envs`` (documented, ``extra`` and credential-named ones).

    A variable named like a credential counts from a few characters on: masking ``1`` or
    ``yes`` would garble every line and hide nothing. A password inside a URL of any variable
    counts too.
    """
    named = {*CREDENTIAL_ENV, *extra}
    found: set[str] = set()
    for env in envs:
        for name, value in env.items():
            if not value:
                continue
            if name in named or (len(value) >= _INFERRED_MIN_LENGTH and is_credential_name(name)):
                found.add(value)
            # A password inside a URL (DATABASE_URL=postgresql://u:pw@db/x), as is and decoded.
            for match in _URL_PASSWORD_VALUE.finditer(value):
                found.update({match.group(1), urllib.parse.unquote(match.group(1))})
    return sorted(found)


def without_withheld(environ: Mapping[str, str], asked: Mapping[str, str]) -> dict[str, str]:
    """Return ``environ`` without the withheld credentials, except those ``asked`` sets."""
    return {k: v for k, v in environ.items() if k not in WITHHELD_ENV or k in asked}


# -- masking --------------------------------------------------------------------------------------


def _python_escaped(text: str) -> tuple[str, str]:
    """Return the body of ``repr(text)`` as repr writes it between ' and between "."""
    # With both quotes appended, repr picks ' and escapes it (backslashes doubled, never ").
    single = repr(text + "'\"")[1:-4]
    return single, single.replace("\\'", "'").replace('"', '\\"')


def escaped_forms(secret: str) -> list[str]:
    """Return ``secret`` as it may be printed: raw, Python repr, JSON, shell-quoted, URL-encoded.

    One level of nesting too (the repr of a JSON text, the JSON of a repr), longest first.
    """
    encoders = (
        lambda s: _python_escaped(s)[0],
        lambda s: _python_escaped(s)[1],
        lambda s: json.dumps(s)[1:-1],
        lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
        shlex.quote,
        lambda s: urllib.parse.quote(s, safe=""),
        lambda s: urllib.parse.quote_plus(s, safe=""),
    )
    forms = {secret}
    for first in encoders:
        once = first(secret)
        forms.add(once)
        forms.update(second(once) for second in encoders)
    return sorted((f for f in forms if f), key=len, reverse=True)


@functools.lru_cache(maxsize=64)
def _all_forms(secrets: tuple[str, ...]) -> tuple[str, ...]:
    forms = {form for secret in secrets if secret for form in escaped_forms(secret)}
    # Longest first, so a form containing another one is masked whole.
    return tuple(sorted(forms, key=len, reverse=True))


def mask(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value in ``text``, in any of its escaped forms, with ``***``."""
    for form in _all_forms(tuple(sorted(set(secrets)))):
        if form in text:
            text = text.replace(form, MASK)
    return text


def mask_argv(argv: Iterable[str], secrets: Iterable[str]) -> list[str]:
    """Return ``argv`` with secret values masked in every element."""
    values = list(secrets)
    return [mask(arg, values) for arg in argv]
