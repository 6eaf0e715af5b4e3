"""Read back the SVG the pictures draw: element ids with their text, and fills."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def parse(svg: str) -> ET.Element:
    """Return the root of ``svg``, a picture this package drew (trusted input)."""
    return ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted data


def ids_and_texts(svg: str) -> dict[str, str]:
    """Return each element id of ``svg`` with the text inside it ("" when none)."""
    return {
        element.attrib["id"]: "".join(element.itertext()).strip()
        for element in parse(svg).iter()
        if "id" in element.attrib
    }


def texts(svg: str) -> set[str]:
    """Return the content of every ``<text>`` of ``svg``."""
    return {
        "".join(t.itertext()).strip() for t in parse(svg).iter("{http://www.w3.org/2000/svg}text")
    }
