"""A cheap language guess for BCS transcripts: script first, then lexical markers.

Cyrillic means Serbian. Ekavian reflexes (mleko, reka, dete) point to Serbian; Croatian- and
Bosnian-specific words are weaker hints. The guess is advisory: the declared language wins.
"""

from __future__ import annotations

import re

from whisper_pipeline.text.transliterate import has_cyrillic

# A trailing "*" marks a stem that matches any inflected form (kahva, kahvu, kahve…).
_MARKERS = {
    "sr": {"mlek*", "dete", "deca", "dece", "lep*", "vreme", "vremena", "pesm*", "mest*", "hleb*",
           "belo", "beli", "gde", "uvek", "nedelj*", "vek", "reč", "reči", "srećno", "voz", "vozom", "reka", "reke", "reku", "rekom",
           "hiljad*", "pozorišt*", "sedišt*"},
    "hr": {"tko", "kruh*", "tisuć*", "vlak*", "kazališt*", "zrakoplov*", "siječ*", "veljač*", "tjed*", "što",
           "kolodvor*", "sveučilišt*", "glazb*", "obitelj*", "tijekom", "kuna", "kune", "kolovoz*", "lipanj*"},
    "bs": {"hljeb*", "sahat*", "kahv*", "mahal*", "avlij*", "sevdah*", "bajram*", "džamij*", "čaršij*",
           "ćevap*", "šta", "lahko", "mehko", "komšij*", "munar*", "somun*", "historij*", "sedmic*"},
}
_WORD = re.compile(r"\w+", re.UNICODE)


def _matches(word: str, markers: set[str]) -> bool:
    return word in markers or any(m.endswith("*") and word.startswith(m[:-1]) for m in markers)


def guess_language(text: str) -> str | None:
    """``bs``/``hr``/``sr`` when the text gives a hint, else ``None``."""
    if not text.strip():
        return None
    if has_cyrillic(text):
        return "sr"
    words = [w.lower() for w in _WORD.findall(text)]
    scores = {lang: sum(_matches(w, markers) for w in words) for lang, markers in _MARKERS.items()}
    best = max(scores, key=scores.get)
    if scores[best] == 0 or list(scores.values()).count(scores[best]) > 1:
        return None
    return best
