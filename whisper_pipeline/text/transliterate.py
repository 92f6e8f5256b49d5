"""Serbian Cyrillic → Latin (Gaj's alphabet), one-to-one except the digraphs Lj, Nj, Dž."""

from __future__ import annotations

_LOWER = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "đ", "е": "e", "ж": "ž", "з": "z",
    "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "ć", "у": "u", "ф": "f", "х": "h", "ц": "c",
    "ч": "č", "џ": "dž", "ш": "š",
}
_DIGRAPH_UPPER = {"Љ": ("Lj", "LJ"), "Њ": ("Nj", "NJ"), "Џ": ("Dž", "DŽ")}


def has_cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


def cyrillic_to_latin(text: str) -> str:
    """Transliterate; an upper-case digraph letter is all-caps (``LJ``) inside an all-caps word."""
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch in _DIGRAPH_UPPER:
            title, caps = _DIGRAPH_UPPER[ch]
            neighbours = [c for c in (text[i - 1] if i else "", text[i + 1] if i + 1 < len(text) else "") if c.isalpha()]
            out.append(caps if neighbours and all(c.isupper() for c in neighbours) else title)
        elif ch.lower() in _LOWER:
            latin = _LOWER[ch.lower()]
            out.append(latin.upper() if ch.isupper() else latin)
        else:
            out.append(ch)
    return "".join(out)
