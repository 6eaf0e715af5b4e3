"""The state file of a running ``luigi-ufo dev``: what it started or found, and is it alive.

A service is recorded with its PID and that process's start time, so a PID the kernel handed to
another program since is not taken for the service (nor signalled). Written whole and renamed
into place, so a reader never sees half of it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luigi_ufo.errors import ServiceError
from luigi_ufo.services.process import ProcessRef


@dataclass(frozen=True)
class Service:
    """One service: how to reach it, its PID, and whether ``dev`` started it (and stops it)."""

    name: str
    url: str
    pid: int
    started: float
    ours: bool
    log: str = ""
    web_url: str = ""

    @property
    def ref(self) -> ProcessRef:
        """The recorded process."""
        return ProcessRef(self.pid, self.started)

    def alive(self) -> bool:
        """Whether the recorded process still runs."""
        return self.ref.alive()


@dataclass(frozen=True)
class DevState:
    """A ``dev`` session: its own process (the owner), its luigi.cfg and its services."""

    owner_pid: int
    owner_started: float
    config: str
    env_file: str = ""
    services: tuple[Service, ...] = field(default=())
    #: The owner returned on purpose (``--detach``), leaving the services to ``dev stop``.
    detached: bool = False

    def owner_alive(self) -> bool:
        """Whether the ``dev`` process that wrote this is still running."""
        return ProcessRef(self.owner_pid, self.owner_started).alive()

    def orphaned(self) -> bool:
        """Whether a foreground owner died (SIGKILL, OOM) without stopping its services."""
        return not self.detached and not self.owner_alive() and bool(self.alive())

    def alive(self) -> list[Service]:
        """The recorded services still running."""
        return [s for s in self.services if s.alive()]

    def with_service(self, service: Service) -> DevState:
        """This state with ``service`` added."""
        return dataclasses.replace(self, services=(*self.services, service))


def new_state(config: Path, env_file: Path | None) -> DevState:
    """The state of a session this process is starting."""
    owner = ProcessRef.current()
    return DevState(
        owner_pid=owner.pid,
        owner_started=owner.started,
        config=str(config),
        env_file=str(env_file) if env_file else "",
    )


def write_state(path: Path, state: DevState) -> None:
    """Record ``state`` in ``path`` (whole, then renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(state), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_state(path: Path) -> DevState | None:
    """Return the state recorded in ``path``, or None if there is none."""
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        services = tuple(Service(**s) for s in doc.pop("services", []))
        return DevState(**doc, services=services)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise ServiceError(
            f"cannot read the luigi-ufo dev state {str(path)!r} ({exc}); if no `luigi-ufo dev` "
            "runs, delete it"
        ) from None
