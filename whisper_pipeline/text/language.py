"""A cheap language guess for BCS transcripts: script first, then lexical markers.

Cyrillic means Serbian. Ekavian reflexes (mleko, reka, dete) point to Serbian; Croatian- and
Bosnian-specific words are weaker hints. The guess is advisory: the declared language wins.
"""

from __future__ import annotations

import re

from whisper_pipeline.text.transliterate import has_cyrillic

_MARKERS = {
    "sr": {"mleko", "reka", "dete", "lepo", "lep", "lepa", "vreme", "pesma", "mesto", "hleb", "sveće",
           "belo", "beli", "deca", "gde", "uvek", "nedelja", "vek", "reč", "reči", "srećno", "sreća",
           "voz", "hiljadu", "sedište", "pozorište"},
    "hr": {"tko", "kruh", "tisuća", "vlak", "kazalište", "zrakoplov", "siječanj", "veljača", "tjedan",
           "što", "kolodvor", "sveučilište", "glazba", "obitelj", "zajedno", "tijekom", "zračna"},
    "bs": {"hljeb", "sahat", "kahva", "mahala", "avlija", "sevdah", "merhaba", "bajram", "džamija",
           "čaršija", "ćevapi", "šta", "hiljada", "lahko", "mehko"},
}
_WORD = re.compile(r"\w+", re.UNICODE)


def guess_language(text: str) -> str | None:
    """``bs``/``hr``/``sr`` when the text gives a hint, else ``None``."""
    if not text.strip():
        return None
    if has_cyrillic(text):
        return "sr"
    words = [w.lower() for w in _WORD.findall(text)]
    scores = {lang: sum(w in markers for w in words) for lang, markers in _MARKERS.items()}
    best = max(scores, key=scores.get)
    if scores[best] == 0 or list(scores.values()).count(scores[best]) > 1:
        return None
    return best
