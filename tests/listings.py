"""``count_listings()``: record each listing of a local dataset, to prove bulk checks batch."""

from __future__ import annotations

from typing import Any

import pytest

from luigi_ufo.dated import LocalStorage


def count_listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return a list that gets the directory of every LocalStorage listing from now on."""
    seen: list[str] = []
    original = LocalStorage.list_objects  # list_keys lists through it too

    def counting(self: LocalStorage, rel_prefix: str = "", start_after: str = "") -> Any:
        seen.append(self.root.prefix)
        return original(self, rel_prefix, start_after)

    monkeypatch.setattr(LocalStorage, "list_objects", counting)
    return seen
