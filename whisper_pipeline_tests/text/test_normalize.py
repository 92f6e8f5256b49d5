import unicodedata

import pytest

from whisper_pipeline.text.normalize import EvalNormalizer, check_transcript, normalize_for_eval, normalize_transcript
from whisper_pipeline.text.transliterate import cyrillic_to_latin
from whisper_pipeline.text.transcripts import read_transcript


@pytest.mark.parametrize("cyr,lat", [
    ("Љубав", "Ljubav"), ("ЉУБАВ", "LJUBAV"), ("Њива", "Njiva"), ("ЊИВА", "NJIVA"),
    ("Џеп", "Džep"), ("ЏЕП", "DŽEP"), ("ђак ћерка", "đak ćerka"), ("Ђорђе Ћосић", "Đorđe Ćosić"),
    ("Добар дан, како сте?", "Dobar dan, kako ste?"),
])
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


@pytest.mark.parametrize("text,expected", [
    ("A: Dobar dan. B: Dobar dan!", "Dobar dan. B: Dobar dan!"),  # only at line start
    ("A: Kako si?\nB: Dobro, hvala.", "Kako si? Dobro, hvala."),
    ("Govornik 1: Sjednica je otvorena.", "Sjednica je otvorena."),
    ("SPEAKER_01: Hvala lijepa.", "Hvala lijepa."),
    ("MARKO: Idemo kući.", "Idemo kući."),
    ("Voditeljica: Dobro veče, poštovani gledaoci.", "Dobro veče, poštovani gledaoci."),
    ("Говорник 2: Добар дан.", "Dobar dan."),
    ("Dakle: idemo sutra.", "Dakle: idemo sutra."),  # an ordinary word before a colon is not a label
    ("- Gdje si bio?\n- Kod kuće.", "Gdje si bio? Kod kuće."),  # subtitle dialogue dashes
])
def test_training_text_removes_speaker_labels_and_dialogue_dashes(text, expected):
    assert normalize_transcript(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("*smijeh* Nisam to rekao.", "Nisam to rekao."),
    ("[smijeh (glasno)] Ma nemoj!", "Ma nemoj!"),  # nested
    ("Idemo <unk> sutra [nerazumljivo] u grad.", "Idemo sutra u grad."),
    ("Rekao je: «Ne znam» ‹baš›.", "Rekao je: \"Ne znam\" 'baš'."),
    ("Dobro\u00a0jutro\u200b , kako ste ?", "Dobro jutro, kako ste?"),
    ("Cijena je 5 – 10 eura…", "Cijena je 5 - 10 eura..."),
])
def test_training_text_annotations_quotes_dashes_whitespace(text, expected):
    assert normalize_transcript(text) == expected


def test_training_text_can_keep_cyrillic():
    assert normalize_transcript("[музика] Љубав и ЊЕГОШ.", keep_cyrillic=True) == "Љубав и ЊЕГОШ."
    assert normalize_transcript("[музика] Љубав и ЊЕГОШ.") == "Ljubav i NJEGOŠ."


@pytest.mark.parametrize("text,reason", [
    ("", "empty transcript"), ("   ", "empty transcript"),
    ("[muzika] (smijeh)", "nothing left after removing annotations"),
    ("Dobar [muzika dan", "unbalanced bracket"),
    ("Καλημέρα prijatelju", "letters outside the BCS alphabets"),
    ("Привет, как дела? Ты", "letters outside the BCS alphabets"),  # Russian, not Serbian Cyrillic
    ("123 456", "no words"),
])
def test_transcripts_that_cannot_be_normalized_say_why(text, reason):
    norm, why = check_transcript(text)
    assert norm == "" and reason in why


def test_check_transcript_passes_good_bcs_text():
    for text in ("Dobro jutro, kako ste spavali?", "Ђаци су у школи.", "Idemo u Zagreb s Đurom."):
        norm, why = check_transcript(text)
        assert why == "" and norm


@pytest.mark.parametrize("ref,hyp", [
    ("Imam dvadeset i pet godina.", "imam 25 godina"),
    ("Rođen je tisuću devetsto devedeset druge.", "rođen je 1990 druge"),
    ("Karta košta 1.000 dinara.", "karta košta hiljadu dinara"),
    ("Inflacija je 2,5%.", "inflacija je dva zarez pet posto"),
    ("Djordje je došao.", "Đorđe je došao"),
    ("Dvije tisuće ljudi.", "2000 ljudi"),
    ("Пет минута.", "pet minuta"),
])
def test_eval_text_makes_equivalent_writings_equal(ref, hyp):
    assert normalize_for_eval(ref) == normalize_for_eval(hyp)


def test_eval_text_optional_diacritic_stripping():
    strip = EvalNormalizer(strip_diacritics=True)
    assert normalize_for_eval("Čaša ćevapa, šuma, žaba, Đurđa", strip) == "casa cevapa suma zaba djurdja"
    assert normalize_for_eval("Čaša") == "čaša"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1250"])
def test_transcripts_in_common_encodings(tmp_path, encoding):
    path = tmp_path / "t.txt"
    path.write_bytes("Šećer i čokolada, đak žvače.".encode(encoding))
    text, detected = read_transcript(path)
    assert text == "Šećer i čokolada, đak žvače."
    assert detected == encoding
