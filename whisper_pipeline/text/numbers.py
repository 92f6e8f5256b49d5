"""BCS number words → digits, for the evaluation normalizer.

A reference may say ``dvadeset pet`` where the model writes ``25`` (or the other way round); WER
should not count that as two errors. Like Whisper's English normalizer, spelled-out cardinals
become digits on both sides. Covers 0 – 999 999 999 in Croatian, Bosnian and Serbian forms
(``dvije``/``dve``, ``tisuća``/``hiljada``, ``milijun``/``milion``, ``dvadeset i pet``), digit
groups (``1.000``, ``1 000``), a digit before a scale word (``2 tisuće``), the decimal comma
(``2,5`` → ``2 zarez 5``, as it is read) and ``%`` (``posto``).
"""

from __future__ import annotations

import re

UNITS = {
    "nula": 0,
    "jedan": 1,
    "jedna": 1,
    "jedno": 1,
    "jednu": 1,
    "dva": 2,
    "dvije": 2,
    "dve": 2,
    "tri": 3,
    "četiri": 4,
    "pet": 5,
    "šest": 6,
    "sedam": 7,
    "osam": 8,
    "devet": 9,
}
TEENS = {
    "deset": 10,
    "jedanaest": 11,
    "dvanaest": 12,
    "trinaest": 13,
    "četrnaest": 14,
    "petnaest": 15,
    "šesnaest": 16,
    "sedamnaest": 17,
    "osamnaest": 18,
    "devetnaest": 19,
}
TENS = {
    "dvadeset": 20,
    "trideset": 30,
    "četrdeset": 40,
    "pedeset": 50,
    "šezdeset": 60,
    "sedamdeset": 70,
    "osamdeset": 80,
    "devedeset": 90,
}
HUNDREDS = {
    "sto": 100,
    "stotinu": 100,
    "dvjesto": 200,
    "dvjesta": 200,
    "dvesta": 200,
    "dvesto": 200,
    "tristo": 300,
    "trista": 300,
    "četiristo": 400,
    "petsto": 500,
    "šeststo": 600,
    "sedamsto": 700,
    "osamsto": 800,
    "devetsto": 900,
}
SCALES = {
    **dict.fromkeys(("tisuća", "tisuću", "tisuće", "hiljada", "hiljadu", "hiljade", "hiljadama"), 1000),
    **dict.fromkeys(("milijun", "milijuna", "milijuni", "milion", "miliona", "milioni", "milijon"), 1_000_000),
}
# Position of a word inside a group below 1000: hundreds, then tens or teens, then units.
_RANK = {**dict.fromkeys(HUNDREDS, 3), **dict.fromkeys(TENS, 2), **dict.fromkeys(TEENS, 1), **dict.fromkeys(UNITS, 0)}
_VALUE = {**UNITS, **TEENS, **TENS, **HUNDREDS}
_DIGIT_GROUPS = re.compile(r"(?<![\d,])(\d{1,3})((?:[. \u00a0]\d{3})+)(?![\d,]|\.\d)")
_DECIMAL = re.compile(r"(\d),(\d)")


def _fits(previous_rank: int | None, rank: int) -> bool:
    """Can ``rank`` follow ``previous_rank`` in one number? (sto dvadeset pet: 3 → 2 → 0.)"""
    if previous_rank is None:
        return True
    if previous_rank == 2:  # after a ten only a unit (dvadeset pet)
        return rank == 0
    if previous_rank == 1:  # teens end a group
        return False
    return rank < previous_rank


def words_to_digits(text: str) -> str:
    """Replace runs of number words in lower-case, punctuation-free text by their value."""
    out: list[str] = []
    total = group = 0
    rank: int | None = None
    in_number = False
    last_scale = None
    words = text.split()

    def flush() -> None:
        nonlocal total, group, rank, in_number, last_scale
        if in_number:
            out.append(str(total + group))
        total = group = 0
        rank, in_number, last_scale = None, False, None

    for i, word in enumerate(words):
        if word in _VALUE:
            r = _RANK[word]
            if in_number and not _fits(rank, r):  # after a scale word rank is None: tisuću dvjesto
                flush()
            group += _VALUE[word]
            rank, in_number = r, True
            continue
        if word in SCALES and (in_number or word in ("tisuću", "hiljadu", "tisuća", "hiljada", "milijun", "milion")):
            scale = SCALES[word]
            if last_scale is not None and scale >= last_scale:
                flush()
            total += (group or 1) * scale
            group, rank, in_number, last_scale = 0, None, True, scale
            continue
        if word.isdigit() and i + 1 < len(words) and words[i + 1] in SCALES:
            flush()
            group, rank, in_number = int(word), 3, True
            continue
        if word == "i" and rank == 2 and i + 1 < len(words) and _RANK.get(words[i + 1]) == 0:
            continue  # dvadeset i pet
        flush()
        out.append(word)
    flush()
    return " ".join(out)


def normalize_digits(text: str) -> str:
    """Digit groups joined (1.000 → 1000), decimal comma spoken (2,5 → 2 zarez 5), % → posto."""
    text = _DIGIT_GROUPS.sub(lambda m: m.group(1) + re.sub(r"\D", "", m.group(2)), text)
    text = _DECIMAL.sub(r"\1 zarez \2", text)
    return text.replace("%", " posto ")
