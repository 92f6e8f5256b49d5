import unicodedata

import pytest

from whisper_pipeline.text.normalize import normalize_for_eval, normalize_transcript
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
    assert normalize_for_eval("Добро јутро, Ђорђе!  Kako SI?") == "dobro jutro đorđe kako si"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1250"])
def test_transcripts_in_common_encodings(tmp_path, encoding):
    path = tmp_path / "t.txt"
    path.write_bytes("Šećer i čokolada, đak žvače.".encode(encoding))
    text, detected = read_transcript(path)
    assert text == "Šećer i čokolada, đak žvače."
    assert detected == encoding
