import unicodedata

import pytest

from whisper_pipeline.text.normalize import (
    EvalNormalizer,
    check_transcript,
    normalize_for_eval,
    normalize_transcript,
)
from whisper_pipeline.text.transcripts import (
    TranscriptError,
    decode_transcript_bytes,
    read_transcript,
)
from whisper_pipeline.text.transliterate import cyrillic_to_latin


@pytest.mark.parametrize(
    "cyr,lat",
    [
        ("Љубав", "Ljubav"),
        ("ЉУБАВ", "LJUBAV"),
        ("Њива", "Njiva"),
        ("ЊИВА", "NJIVA"),
        ("Џеп", "Džep"),
        ("ЏЕП", "DŽEP"),
        ("ђак ћерка", "đak ćerka"),
        ("Ђорђе Ћосић", "Đorđe Ćosić"),
        ("Добар дан, како сте?", "Dobar dan, kako ste?"),
    ],
)
def test_serbian_cyrillic_to_latin(cyr, lat):
    assert cyrillic_to_latin(cyr) == lat


def test_training_text_removes_annotations_keeps_case_and_punctuation():
    text = "[muzika] Dobar dan, (smijeh) kako ste? <noise> {uzdah} „Hvala“ — dobro…"
    assert normalize_transcript(text) == 'Dobar dan, kako ste? "Hvala" - dobro...'


def test_training_text_is_nfc():
    decomposed = unicodedata.normalize("NFD", "Čaša ćevapa")
    assert decomposed != "Čaša ćevapa"
    assert normalize_transcript(decomposed) == "Čaša ćevapa"


def test_eval_text_is_lowercase_latin_without_punctuation():
    assert normalize_for_eval("Добро јутро, Ђорђе!  Kako SI?") == "dobro jutro djordje kako si"
    assert normalize_for_eval("Добро јутро, Ђорђе!", EvalNormalizer(dj_for_dj=False)) == "dobro jutro đorđe"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("A: Dobar dan. B: Dobar dan!", "Dobar dan. B: Dobar dan!"),  # only at line start
        ("A: Kako si?\nB: Dobro, hvala.", "Kako si? Dobro, hvala."),
        ("Govornik 1: Sjednica je otvorena.", "Sjednica je otvorena."),
        ("SPEAKER_01: Hvala lijepa.", "Hvala lijepa."),
        ("MARKO: Idemo kući.", "Idemo kući."),
        ("Voditeljica: Dobro veče, poštovani gledaoci.", "Dobro veče, poštovani gledaoci."),
        ("Говорник 2: Добар дан.", "Dobar dan."),
        ("Dakle: idemo sutra.", "Dakle: idemo sutra."),  # an ordinary word before a colon is not a label
        ("- Gdje si bio?\n- Kod kuće.", "Gdje si bio? Kod kuće."),  # subtitle dialogue dashes
    ],
)
def test_training_text_removes_speaker_labels_and_dialogue_dashes(text, expected):
    assert normalize_transcript(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("*smijeh* Nisam to rekao.", "Nisam to rekao."),
        ("[smijeh (glasno)] Ma nemoj!", "Ma nemoj!"),  # nested
        ("Idemo <unk> sutra [nerazumljivo] u grad.", "Idemo sutra u grad."),
        ("Rekao je: «Ne znam» ‹baš›.", "Rekao je: \"Ne znam\" 'baš'."),
        ("Dobro\u00a0jutro\u200b , kako ste ?", "Dobro jutro, kako ste?"),
        ("Cijena je 5 – 10 eura…", "Cijena je 5 - 10 eura..."),
    ],
)
def test_training_text_annotations_quotes_dashes_whitespace(text, expected):
    assert normalize_transcript(text) == expected


def test_training_text_can_keep_cyrillic():
    assert normalize_transcript("[музика] Љубав и ЊЕГОШ.", keep_cyrillic=True) == "Љубав и ЊЕГОШ."
    assert normalize_transcript("[музика] Љубав и ЊЕГОШ.") == "Ljubav i NJEGOŠ."


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "empty transcript"),
        ("   ", "empty transcript"),
        ("[muzika] (smijeh)", "nothing left after removing annotations"),
        ("Dobar [muzika dan", "unbalanced bracket"),
        ("Καλημέρα prijatelju", "letters outside the BCS alphabets"),
        ("Привет, как дела? Ты", "letters outside the BCS alphabets"),  # Russian, not Serbian Cyrillic
        ("123 456", "no words"),
    ],
)
def test_transcripts_that_cannot_be_normalized_say_why(text, reason):
    norm, why = check_transcript(text)
    assert norm == "" and reason in why


def test_check_transcript_passes_good_bcs_text():
    for text in ("Dobro jutro, kako ste spavali?", "Ђаци су у школи.", "Idemo u Zagreb s Đurom."):
        norm, why = check_transcript(text)
        assert why == "" and norm


@pytest.mark.parametrize(
    "ref,hyp",
    [
        ("Imam dvadeset i pet godina.", "imam 25 godina"),
        ("Rođen je tisuću devetsto devedeset druge.", "rođen je 1990 druge"),
        ("Karta košta 1.000 dinara.", "karta košta hiljadu dinara"),
        ("Inflacija je 2,5%.", "inflacija je dva zarez pet posto"),
        ("Djordje je došao.", "Đorđe je došao"),
        ("Dvije tisuće ljudi.", "2000 ljudi"),
        ("Пет минута.", "pet minuta"),
    ],
)
def test_eval_text_makes_equivalent_writings_equal(ref, hyp):
    assert normalize_for_eval(ref) == normalize_for_eval(hyp)


def test_eval_text_optional_diacritic_stripping():
    strip = EvalNormalizer(strip_diacritics=True)
    assert normalize_for_eval("Čaša ćevapa, šuma, žaba, Đurđa", strip) == "casa cevapa suma zaba djurdja"
    assert normalize_for_eval("Čaša") == "čaša"


RICH = "Šećer i čokolada, đak žvače. ČAĆA ĆOŠAK ĐURĐA ŠUMA ŽABA, Šibenik i Žabljak; čćđšž ČĆĐŠŽ."


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1250", "iso-8859-2"]
TEXTS = [RICH, "Šuma", "žaba", "Šećer i čokolada, đak žvače.", "Ђорђе ћерка у Београду"]


@pytest.mark.parametrize(
    "encoding,text",
    [(e, t) for e in ENCODINGS for t in TEXTS if e not in ("cp1250", "iso-8859-2") or t.isascii() or "Ђ" not in t],
)
def test_transcripts_in_every_claimed_encoding(tmp_path, encoding, text):
    """Every encoding the README names reads back exactly, and says which it was (Cyrillic has no
    code points in the Central European code pages, so it is tried in the Unicode ones only)."""
    path = tmp_path / "t.txt"
    path.write_bytes(text.encode(encoding))
    decoded = read_transcript(path)
    assert decoded.text == text
    assert decoded.encoding == encoding
    assert decoded.confidence >= 0.9, decoded


def test_code_pages_tell_apart_on_the_letters_they_disagree_on():
    """Š/š/Ž/ž sit at different bytes in cp1250 and ISO-8859-2; each reading of the other's bytes is wrong."""
    iso, cp = "Šećer žvače".encode("iso-8859-2"), "Šećer žvače".encode("cp1250")
    assert iso.decode("cp1250") == "©ećer ľvače" and cp.decode("iso-8859-2") != "Šećer žvače"  # what used to happen
    assert decode_transcript_bytes(iso).text == decode_transcript_bytes(cp).text == "Šećer žvače"
    shared = "čćđ ČĆĐ".encode("cp1250")  # the same bytes in both code pages: nothing to choose, nothing to doubt
    assert decode_transcript_bytes(shared) == ("čćđ ČĆĐ", "cp1250", 1.0)
    quotes = decode_transcript_bytes("„Dobro jutro“ – rekla je".encode("cp1250"))  # C1 controls in ISO-8859-2
    assert quotes.text == "„Dobro jutro“ – rekla je" and quotes.encoding == "cp1250" and quotes.confidence > 0.99


def test_unreadable_transcript_names_the_file(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\x81\x83\x00\x90\x98\xff\xfe\x00\x00\xd8")
    with pytest.raises(TranscriptError, match="bad.txt: unreadable text encoding"):
        read_transcript(path)


@pytest.mark.parametrize(
    "single,spelt",
    [("ǅepni ǈubav ǋemačka", "Džepni Ljubav Njemačka"), ("ǆem ǉudi ǌiva", "džem ljudi njiva"), ("Ǆ Ǉ Ǌ", "DŽ LJ NJ")],
)
def test_single_character_digraph_letters_in_both_normalizers(single, spelt):
    assert check_transcript(single) == (spelt, "")
    assert normalize_for_eval(single) == normalize_for_eval(spelt) == spelt.lower()


def test_decomposed_input_reads_like_composed():
    composed = "Čaša ćevapa, šuma, žaba, Đurđa"
    nfd = unicodedata.normalize("NFD", composed)
    assert nfd != composed
    assert normalize_transcript(nfd) == composed and check_transcript(nfd) == (composed, "")
    assert normalize_for_eval(nfd) == "čaša ćevapa šuma žaba djurdja"
    assert normalize_for_eval(nfd, EvalNormalizer(strip_diacritics=True)) == "casa cevapa suma zaba djurdja"


@pytest.mark.parametrize(
    "mixed,latin,cyrillic",
    [
        ("Dоbar dаn", "Dobar dan", None),  # Cyrillic о and а typed inside Latin words
        ("Sрlit", "Split", None),  # Cyrillic р looks like p, though it transliterates to r
        ("Ovo je XEROX", "Ovo je XEROX", None),
        ("Добар дaн", "Dobar dan", "Добар дан"),  # a Latin a inside a Cyrillic word
        ("Сpпска", "Srpska", "Српска"),  # Latin p for Cyrillic р
    ],
)
def test_latin_cyrillic_lookalike_mixtures_become_one_script(mixed, latin, cyrillic):
    assert normalize_transcript(mixed) == latin
    assert check_transcript(mixed) == (latin, "")
    if cyrillic:
        assert normalize_transcript(mixed, keep_cyrillic=True) == cyrillic
    assert normalize_for_eval(mixed) == normalize_for_eval(latin)
