"""A module uses_helper.py imports: listed in its task's ``script_files``."""


def shout(text: str) -> str:
    """Return ``text`` upper-cased with a mark, so the output shows this module ran."""
    return text.upper() + "!"
