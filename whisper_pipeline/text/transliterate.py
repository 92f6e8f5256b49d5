"""Serbian Cyrillic → Latin (Gaj's alphabet), one-to-one except the digraphs Lj, Nj, Dž."""

from __future__ import annotations

import re

_LOWER = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "ђ": "đ",
    "е": "e",
    "ж": "ž",
    "з": "z",
    "и": "i",
    "ј": "j",
    "к": "k",
    "л": "l",
    "љ": "lj",
    "м": "m",
    "н": "n",
    "њ": "nj",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "ћ": "ć",
    "у": "u",
    "ф": "f",
    "х": "h",
    "ц": "c",
    "ч": "č",
    "џ": "dž",
    "ш": "š",
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
            neighbours = [
                c for c in (text[i - 1] if i else "", text[i + 1] if i + 1 < len(text) else "") if c.isalpha()
            ]
            out.append(caps if neighbours and all(c.isupper() for c in neighbours) else title)
        elif ch.lower() in _LOWER:
            latin = _LOWER[ch.lower()]
            out.append(latin.upper() if ch.isupper() else latin)
        else:
            out.append(ch)
    return "".join(out)


# Unicode's single-character digraph letters (U+01C4–U+01CC), as Croatian text encoded in the 1990s uses them.
DIGRAPH_LETTERS = str.maketrans(
    {"Ǆ": "DŽ", "ǅ": "Dž", "ǆ": "dž", "Ǉ": "LJ", "ǈ": "Lj", "ǉ": "lj", "Ǌ": "NJ", "ǋ": "Nj", "ǌ": "nj"}
)
# Letters that look the same in both scripts; a word typed on a mixed keyboard layout holds some of the other script's.
_CYRILLIC_LOOKALIKES = "аеорсухјАВЕКМНОРСТХЈ"
_LATIN_LOOKALIKES = "aeopcyxjABEKMHOPCTXJ"
_TO_LATIN = str.maketrans(_CYRILLIC_LOOKALIKES, _LATIN_LOOKALIKES)
_TO_CYRILLIC = str.maketrans(_LATIN_LOOKALIKES, _CYRILLIC_LOOKALIKES)
_WORD = re.compile(r"\w+")


def _script(ch: str) -> str:
    if "\u0400" <= ch <= "\u04ff":
        return "cyrillic"
    return "latin" if ch.isalpha() else ""


def fix_mixed_script(text: str) -> str:
    """Make each word that mixes Latin and Cyrillic look-alikes (``Dоbar`` with a Cyrillic о) one script.

    The word's script is the one its unambiguous letters are written in (``S`` and ``l`` are only
    Latin, ``д`` only Cyrillic); a word of look-alikes only follows the words around it. Only
    look-alike letters change, so transliteration afterwards reads the word as the writer meant it."""
    words = list(_WORD.finditer(text))
    unambiguous = []
    for m in words:
        counts = {"latin": 0, "cyrillic": 0}
        for ch in m.group():
            script = _script(ch)
            if script and ch not in _CYRILLIC_LOOKALIKES and ch not in _LATIN_LOOKALIKES:
                counts[script] += 1
        unambiguous.append(counts)
    text_counts = {k: sum(c[k] for c in unambiguous) for k in ("latin", "cyrillic")}
    out, last = [], 0
    for m, counts in zip(words, unambiguous):
        word = m.group()
        scripts = {_script(ch) for ch in word} - {""}
        if len(scripts) > 1:
            ref = counts if counts["latin"] != counts["cyrillic"] else text_counts
            word = word.translate(_TO_CYRILLIC if ref["cyrillic"] > ref["latin"] else _TO_LATIN)
        out += [text[last : m.start()], word]
        last = m.end()
    return "".join(out) + text[last:]
