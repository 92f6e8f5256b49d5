import jiwer
import pytest

from whisper_pipeline.evaluation.metrics import score, utterance_wer


def test_hand_computed_wer_and_cer():
    # "dobar dan svima" vs "dobar dan svim": 1 substitution of 3 words; 1 deletion of 15 characters
    result = score(["Dobar dan, svima!"], ["dobar dan svim"])
    assert result["wer"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["cer"] == pytest.approx(1 / 15, abs=1e-4)


def test_normalization_makes_script_case_and_punctuation_irrelevant():
    assert score(["Добро јутро, Ђорђе!"], ["dobro jutro đorđe"])["wer"] == 0.0


def test_matches_jiwer_on_normalized_strings_and_skips_empty_references():
    refs, hyps = ["jedan dva tri četiri", "pet šest", "[muzika]"], ["jedan tri četiri pet", "pet", "nešto"]
    result = score(refs, hyps)
    assert result["utterances"] == 2
    assert result["wer"] == pytest.approx(jiwer.wer(refs[:2], hyps[:2]), abs=1e-4)
    assert utterance_wer("pet šest", "pet") == 0.5
    assert utterance_wer("[muzika]", "x") is None
