"""Normalisation of the names upstreams spell inconsistently: fuel types and services.

Fuel names arrive as ``АИ-95``, ``аи-95 ``, ``АИ 95``, or ``AИ-95`` with a Latin ``A``: one fuel,
four spellings. They are reduced to one canonical key, then mapped through an alias map (which
the admin can extend) for spellings no rule can catch, such as the transliterated ``AI-95``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

# Latin letters that look exactly like Cyrillic capitals. In a name that has any Cyrillic letter
# they are almost always typing slips (a Latin "A" in "AИ-95"), so they become Cyrillic.
_LATIN_TO_CYRILLIC = str.maketrans("ABCEHKMOPTXY", "АВСЕНКМОРТХУ")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_DASHES = re.compile(r"[\u2010-\u2015\u2212\uFE58\uFE63\uFF0D]")
_SPACES = re.compile(r"\s+")
# "АИ 95", "АИ95", "АИ - 95" → "АИ-95": letters then a number, joined by one hyphen.
_LETTERS_NUMBER = re.compile(r"^([^\W\d_]+)\s*-?\s*(\d+)")

DEFAULT_FUEL_ALIASES: Mapping[str, str] = {
    "AI-80": "АИ-80",
    "AI-92": "АИ-92",
    "AI-95": "АИ-95",
    "AI-95+": "АИ-95+",
    "AI-98": "АИ-98",
    "AI-100": "АИ-100",
    "DT": "ДТ",
    "DIESEL": "ДТ",
    "ДИЗЕЛЬ": "ДТ",
    "LPG": "ГАЗ",
    "ПРОПАН": "ГАЗ",
}


def fuel_key(name: str) -> str:
    """The canonical spelling of a fuel name: NFKC, upper case, one script, tidy punctuation."""
    text = unicodedata.normalize("NFKC", name)
    text = _DASHES.sub("-", text)
    text = _SPACES.sub(" ", text).strip().upper()
    if _CYRILLIC.search(text):
        text = text.translate(_LATIN_TO_CYRILLIC)
    text = _LETTERS_NUMBER.sub(r"\1-\2", text)
    return re.sub(r"\s*\+\s*$", "+", text)


class FuelNameNormalizer:
    """Maps any spelling of a fuel name to its canonical name, through rules then aliases."""

    # A source spells its few dozen fuels the same way in every record: remember the answers.
    _CACHE_LIMIT = 10_000

    def __init__(self, aliases: Mapping[str, str] = DEFAULT_FUEL_ALIASES) -> None:
        self._aliases = {fuel_key(k): fuel_key(v) for k, v in aliases.items()}
        self._cache: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        key = fuel_key(name)
        result = self._aliases.get(key, key)
        if len(self._cache) < self._CACHE_LIMIT:
            self._cache[name] = result
        return result

    def with_aliases(self, extra: Mapping[str, str]) -> FuelNameNormalizer:
        """A normaliser with ``extra`` aliases added (they win over the existing ones)."""
        merged = {**self._aliases, **{fuel_key(k): fuel_key(v) for k, v in extra.items()}}
        return FuelNameNormalizer(merged)


def service_name(name: str) -> str:
    """A service name trimmed, with inner whitespace collapsed and NFC-normalised."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", name)).strip()


def unique_service_names(names: Iterable[str]) -> tuple[str, ...]:
    """Normalised, non-empty service names, de-duplicated case-insensitively, first kept."""
    seen: set[str] = set()
    result: list[str] = []
    for raw in names:
        name = service_name(raw)
        folded = name.casefold()
        if name and folded not in seen:
            seen.add(folded)
            result.append(name)
    return tuple(result)
