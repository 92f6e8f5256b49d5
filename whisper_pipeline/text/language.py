"""Which of Bosnian, Croatian and Serbian a transcript is written in, and its dialect.

The three standards share almost all of their grammar, so no single signal is enough. The guess
combines, in order of strength:

1. **Script**: Cyrillic is only used for Serbian (in this corpus), so it decides outright.
2. **Lexical markers**: words one standard uses and the others avoid (``tko``/``kruh``/``vlak`` are
   Croatian, ``kahva``/``sahat``/``lahko`` Bosnian, ``hleb``/``voz``/``hiljada`` Serbian …).
3. **Dialect**: the yat reflex. Ekavian forms (``mleko``, ``reka``, ``dete``) are standard only in
   Serbian; ijekavian forms (``mlijeko``, ``rijeka``, ``dijete``) are Croatian, Bosnian and
   western Serbian, so they count against Serbian but do not pick between the other two.
4. **lingua-language-detector**, restricted to the three languages: a statistical n-gram model,
   useful when no marker fires; weighted low because it cannot tell Latin-script Serbian from
   Croatian reliably.

The guess is advisory: an intake flags a file whose guess disagrees with its declared language,
it never moves it. ``None`` means the text gives no clear evidence (short, neutral sentences).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from whisper_pipeline.text.transliterate import cyrillic_to_latin, has_cyrillic
from whisper_pipeline.workspace import LANGUAGES

# Lexical markers. A trailing "*" marks a stem that matches any inflected form (kahva, kahvu…).
# A word used by two standards but avoided by the third is listed under both: it counts against
# the third without separating the two.
_BS_SR = {
    "ko",
    "neko",
    "niko",
    "iko",
    "svako",
    "šta",
    "hiljad*",
    "sedmic*",
    "voz",
    "voza",
    "vozu",
    "vozom",
    "vozovi*",
    "pozorišt*",
    "opštin*",
    "opšt*",
    "tačn*",
    "tačk*",
    "srećan",
    "srećn*",
    "univerzitet*",
    "porodic*",
    "muzik*",
    "bibliotek*",
    "fabrik*",
    "hemij*",
    "kašik*",
    "paradajz*",
    "supa",
    "supu",
    "sekretar*",
    "kancelarij*",
    "računar*",
    "penzioner*",
    "organizova*",
    "informisa*",
    "reagova*",
    "definisa*",
    "kontrolisa*",
    "spakova*",
    "kafan*",
    "juče",
    "apotek*",
    "nauk*",
    "prodavnic*",
    "pijac*",
    "kesa",
    "kesu",
    "kese",
    "vazduh*",
    "ambasad*",
    "privred*",
    "komšij*",
    "uopšte",
    "januar*",
    "februar*",
    "mart",
    "marta",
    "april*",
    "jun",
    "juna",
    "jul",
    "jula",
    "avgust*",
    "septemb*",
    "oktob*",
    "novemb*",
    "decemb*",
}
_BS_HR = {"jučer", "također", "duhan*", "nogomet*", "grah*", "kino", "kinu"}
LEXICAL_MARKERS: dict[str, frozenset[str]] = {
    "hr": frozenset(
        _BS_HR
        | {
            "tko",
            "netko",
            "nitko",
            "itko",
            "svatko",
            "kruh*",
            "tisuć*",
            "vlak*",
            "kazališt*",
            "zrakoplov*",
            "tjed*",
            "kolodvor*",
            "sveučilišt*",
            "glazb*",
            "obitelj*",
            "tijekom",
            "kava",
            "kave",
            "kavu",
            "kavom",
            "siječ*",
            "veljač*",
            "ožuj*",
            "travanj*",
            "travnj*",
            "svib*",
            "lipanj*",
            "lipnj*",
            "srpanj*",
            "srpnj*",
            "kolovoz*",
            "rujan*",
            "rujn*",
            "listopad*",
            "studeni",
            "studenog",
            "studenom",
            "prosin*",
            "knjižnic*",
            "povijest*",
            "općin*",
            "opć*",
            "točn*",
            "točk*",
            "sretan",
            "sretn*",
            "tvornic*",
            "zračn*",
            "zrak",
            "zraka",
            "zraku",
            "kemij*",
            "liječnik*",
            "veleposlanst*",
            "izvješć*",
            "uopće",
            "juha",
            "juhu",
            "vrhnje",
            "rajčic*",
            "žlic*",
            "ravnatelj*",
            "tajnik*",
            "gospodarst*",
            "tipkovnic*",
            "računal*",
            "umirovljen*",
            "organizir*",
            "informir*",
            "reagir*",
            "definir*",
            "kontrolir*",
            "spakir*",
            "ljekarn*",
            "znanost*",
            "dućan*",
            "trgovin*",
            "tržnic*",
            "vrećic*",
        }
    ),
    "bs": frozenset(
        _BS_SR
        | _BS_HR
        | {
            "kahv*",
            "sahat*",
            "lahk*",
            "polahk*",
            "mehk*",
            "mahal*",
            "avlij*",
            "sevdah*",
            "sevdalink*",
            "bajram*",
            "džamij*",
            "čaršij*",
            "munar*",
            "somun*",
            "hudovic*",
            "nana",
            "nanu",
            "nane",
            "dedo",
            "hair*",
            "insan*",
            "akšam*",
            "sabah*",
            "ahbab*",
            "behar*",
            "mašallah",
            "inšallah",
            "selam*",
            "merhaba",
            "ilahij*",
            "abdest*",
            "namaz*",
            "džemat*",
            "hodž*",
            "rahmetli*",
            "dženaz*",
            "dunjaluk*",
            "historij*",
            "hljeb*",
            "ljekar*",
            "izvještaj*",
        }
    ),
    "sr": frozenset(
        _BS_SR
        | {
            "hleb*",
            "istorij*",
            "fudbal*",
            "lekar*",
            "šargarep*",
            "pavlak*",
            "čaršav*",
            "kafa",
            "kafu",
            "kafe",
            "kafom",
            "kafić*",
            "izveštaj*",
            "bioskop*",
            "pasulj*",
            "deda",
            "takođe",
        }
    ),
}
# Constructions rather than words: "da li" questions and "treba da" + present are Serbian and
# Bosnian; Croatian asks with "je li" / inverted verb and uses the infinitive.
BIGRAM_MARKERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("da", "li"): ("bs", "sr"),
    ("treba", "da"): ("bs", "sr"),
    ("moram", "da"): ("bs", "sr"),
    ("hoću", "da"): ("bs", "sr"),
    ("želim", "da"): ("bs", "sr"),
    ("mogu", "da"): ("bs", "sr"),
}

# Yat reflexes: ekavian forms are standard only in Serbian; ijekavian in Croatian, Bosnian and
# western Serbian. Ekavian short stems collide with unrelated words (reci "say!", sela
# "villages", sveta "holy"), so most are listed as exact forms.
EKAVIAN = frozenset(
    {
        "mlek*",
        "reka",
        "reke",
        "reku",
        "rekom",
        "rekama",
        "reč",
        "reči",
        "rečju",
        "rečima",
        "dete",
        "deteta",
        "detetu",
        "detetom",
        "detinjstv*",
        "deca",
        "dece",
        "deci",
        "decom",
        "decu",
        "lep",
        "lepa",
        "lepo",
        "lepe",
        "lepi",
        "lepu",
        "lepom",
        "lepih",
        "lepše",
        "lepši",
        "lepša",
        "vreme",
        "pesm*",
        "peva",
        "pevam",
        "pevaju",
        "pevao",
        "pevala",
        "pevati",
        "pevač*",
        "mesto",
        "mesta",
        "mestu",
        "mestom",
        "hleb*",
        "beo",
        "bela",
        "belo",
        "bele",
        "beli",
        "belu",
        "belom",
        "belih",
        "gde",
        "ovde",
        "onde",
        "negde",
        "nigde",
        "svugde",
        "uvek",
        "nedelj*",
        "ponedelj*",
        "vek",
        "veka",
        "veku",
        "vekova",
        "sever*",
        "cvet*",
        "svet",
        "svetu",
        "svetom",
        "svetsk*",
        "svetl*",
        "sneg*",
        "snežn*",
        "mesec*",
        "vetar",
        "vetr*",
        "devojk*",
        "dve",
        "levo",
        "leva",
        "levi",
        "levu",
        "levom",
        "posle",
        "pre",
        "telo",
        "tela",
        "telu",
        "telom",
        "verovat*",
        "verujem",
        "veruje",
        "verovao",
        "zvezd*",
        "seća*",
        "sećanj*",
        "delo",
        "delu",
        "delom",
        "cena",
        "cene",
        "cenu",
        "cenom",
        "mera",
        "mere",
        "meru",
        "videt*",
        "želet*",
        "razumet*",
        "sedi",
        "sedimo",
        "seo",
        "sedeti",
        "sedeo",
        "sedela",
        "živet*",
        "volet*",
        "letet*",
        "hteo",
        "hteti",
        "htela",
        "hteli",
        "leto",
        "lek",
        "leka",
        "leku",
        "lekom",
        "lekovi*",
        "lekar*",
        "ceo",
        "cela",
        "celo",
        "celu",
        "celi",
        "celom",
        "celog",
        "celoj",
        "sused*",
        "pobed*",
        "beži",
        "bežim",
        "bežao",
        "bežala",
        "sveć*",
        "sreda",
        "sredu",
        "čovek*",
        "proleć*",
        "prolet*",
        "savet*",
        "promen*",
        "menja*",
        "vežb*",
        "pesnik*",
        "lenj*",
        "primer*",
        "razumel*",
        "razumeo",
        "videl*",
        "želel*",
        "želeo",
        "živel*",
        "živeo",
        "volel*",
        "voleo",
        "letel*",
        "leteo",
        "sedel*",
    }
)
IJEKAVIAN = frozenset(
    {
        "mlijek*",
        "rijek*",
        "riječ*",
        "dijete",
        "djet*",
        "djec*",
        "lijep*",
        "vrijeme",
        "pjesm*",
        "pjev*",
        "mjest*",
        "hljeb*",
        "bijel*",
        "gdje",
        "ovdje",
        "ondje",
        "negdje",
        "nigdje",
        "svugdje",
        "uvijek",
        "nedjelj*",
        "ponedjelj*",
        "vijek*",
        "sjever*",
        "cvijet*",
        "cvjet*",
        "svijet*",
        "svjet*",
        "snijeg*",
        "snježn*",
        "mjesec*",
        "vjet*",
        "djevojk*",
        "dvije",
        "lijev*",
        "poslije",
        "prije",
        "tijel*",
        "vjer*",
        "zvijezd*",
        "sjeć*",
        "djel*",
        "cijen*",
        "mjer*",
        "vidjet*",
        "željet*",
        "razumjet*",
        "sjed*",
        "živjet*",
        "voljet*",
        "letjet*",
        "htio",
        "htjel*",
        "htjeti",
        "ljet*",
        "lijek*",
        "ljekar*",
        "liječ*",
        "cijel*",
        "susjed*",
        "pobjed*",
        "pobijed*",
        "bjež*",
        "svijeć*",
        "srijed*",
        "čovjek*",
        "proljeć*",
        "proljet*",
        "savjet*",
        "promjen*",
        "mijenja*",
        "vjež*",
        "pjesnik*",
        "lijen*",
        "primjer*",
        "namješt*",
        "vijeć*",
        "razumjel*",
        "vidjel*",
        "željel*",
        "živjel*",
        "voljel*",
        "letjel*",
        "sjedel*",
    }
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
WEIGHTS = {"lexical": 2.0, "ekavian": 2.5, "ijekavian": 1.5, "lingua": 1.0}
MIN_MARGIN = 0.75  # the best language must lead the second by this much, or the guess is None


@dataclass
class LanguageGuess:
    """The guess (``None`` when unclear), the dialect, and the evidence for the report."""

    language: str | None
    dialect: str  # "ekavian", "ijekavian", "mixed" or "" (no yat word seen)
    scores: dict[str, float] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)


def _matches(word: str, pattern: str) -> bool:
    return word == pattern or (pattern.endswith("*") and word.startswith(pattern[:-1]))


def _matches_any(word: str, patterns) -> bool:
    return any(_matches(word, p) for p in patterns)


def yat_reflexes(words: list[str]) -> tuple[list[str], list[str]]:
    """(ekavian words, ijekavian words) found in ``words``."""
    ijekavian = [w for w in words if _matches_any(w, IJEKAVIAN)]
    ekavian = [w for w in words if w not in ijekavian and _matches_any(w, EKAVIAN)]
    return ekavian, ijekavian


def dialect_of(text: str) -> str:
    """``ekavian``, ``ijekavian``, ``mixed`` or ``""``; Cyrillic text is transliterated first."""
    words = [w.lower() for w in _WORD.findall(cyrillic_to_latin(text))]
    return _dialect_label(*yat_reflexes(words))


def _dialect_label(ekavian: list[str], ijekavian: list[str]) -> str:
    if ekavian and ijekavian:
        return "mixed"
    return "ekavian" if ekavian else "ijekavian" if ijekavian else ""


@lru_cache(maxsize=1)
def _lingua_detector():
    """A lingua detector for bs/hr/sr only, or None when the package is missing (then the signal is skipped)."""
    try:
        from lingua import Language, LanguageDetectorBuilder
    except ImportError:  # pragma: no cover - it is a declared dependency
        return None
    return LanguageDetectorBuilder.from_languages(Language.BOSNIAN, Language.CROATIAN, Language.SERBIAN).build()


def lingua_confidences(text: str) -> dict[str, float]:
    detector = _lingua_detector()
    if detector is None:
        return {}
    codes = {"BOSNIAN": "bs", "CROATIAN": "hr", "SERBIAN": "sr"}
    return {codes[c.language.name]: c.value for c in detector.compute_language_confidence_values(text)}


def guess(text: str, use_lingua: bool = True) -> LanguageGuess:
    """Score each language from all signals; see the module docstring for the reasoning."""
    if not text or not text.strip():
        return LanguageGuess(None, "")
    if has_cyrillic(text):
        return LanguageGuess("sr", dialect_of(text), {"bs": 0.0, "hr": 0.0, "sr": 10.0}, ["Cyrillic script"])
    words = [w.lower() for w in _WORD.findall(text)]
    scores = dict.fromkeys(LANGUAGES, 0.0)
    evidence: list[str] = []
    for w in words:
        hits = [lang for lang in LANGUAGES if _matches_any(w, LEXICAL_MARKERS[lang])]
        if hits and len(hits) < len(LANGUAGES):
            for lang in hits:
                scores[lang] += WEIGHTS["lexical"]
            evidence.append(f"{w}→{'/'.join(hits)}")
    for first, second in zip(words, words[1:]):
        if (first, second) in BIGRAM_MARKERS:
            hits = BIGRAM_MARKERS[(first, second)]
            for lang in hits:
                scores[lang] += WEIGHTS["lexical"]
            evidence.append(f"{first} {second}→{'/'.join(hits)}")
    ekavian, ijekavian = yat_reflexes(words)
    if ekavian:
        scores["sr"] += WEIGHTS["ekavian"] * len(ekavian)
        evidence.append(f"ekavian: {', '.join(ekavian)}")
    if ijekavian:
        scores["sr"] -= WEIGHTS["ijekavian"] * len(ijekavian)
        evidence.append(f"ijekavian: {', '.join(ijekavian)}")
    if use_lingua:
        lingua = lingua_confidences(text)
        # lingua never says Serbian for Latin script, so it only weighs Bosnian against Croatian;
        # Serbian gets the higher of the two, neither helped nor hurt.
        lingua["sr"] = max(lingua.get("bs", 0.0), lingua.get("hr", 0.0))
        for lang, value in lingua.items():
            scores[lang] += WEIGHTS["lingua"] * value
        if lingua:
            evidence.append("lingua: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(lingua.items())))
    ranked = sorted(scores, key=scores.get, reverse=True)
    best = ranked[0] if scores[ranked[0]] - scores[ranked[1]] >= MIN_MARGIN else None
    return LanguageGuess(
        best, _dialect_label(ekavian, ijekavian), {k: round(v, 3) for k, v in scores.items()}, evidence
    )


def guess_language(text: str) -> str | None:
    """``bs``/``hr``/``sr`` when the text gives clear evidence, else ``None``."""
    return guess(text).language


def score_guesser(labelled: list[tuple[str, str]]) -> dict:
    """Coverage (share with a guess), precision (right among guessed) and a confusion table.

    ``labelled`` holds (language, text) pairs. Used by the tests and to report the guesser's
    accuracy on a labelled set.
    """
    confusion = {lang: {str(g): 0 for g in (*LANGUAGES, None)} for lang in LANGUAGES}
    for lang, text in labelled:
        confusion[lang][str(guess(text).language)] += 1
    total = len(labelled)
    guessed = sum(n for row in confusion.values() for g, n in row.items() if g != "None")
    right = sum(confusion[lang][lang] for lang in LANGUAGES)
    return {
        "sentences": total,
        "coverage": round(guessed / total, 3) if total else 0.0,
        "precision": round(right / guessed, 3) if guessed else 0.0,
        "accuracy": round(right / total, 3) if total else 0.0,
        "confusion": confusion,
    }
