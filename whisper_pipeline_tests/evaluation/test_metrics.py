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


def test_equals_hugging_face_evaluate_on_its_documented_examples():
    """HF ``evaluate``'s wer/cer metrics are scripts fetched from the hub at ``evaluate.load`` time, so they
    cannot run offline; their documented examples (the docstrings of metrics/wer and metrics/cer: the errors of
    every pair summed, divided by the summed reference lengths, spaces counted as characters) are the
    reference values here."""
    from whisper_pipeline.evaluation.metrics import summarize, utterance_errors

    predictions = ["this is the prediction", "there is an other sample"]
    references = ["this is the reference", "there is another one"]
    s = summarize([utterance_errors(r, p) for r, p in zip(references, predictions)])
    assert s["wer"] == pytest.approx(0.5, abs=1e-4)
    assert s["cer"] == pytest.approx(0.34146341463414637, abs=1e-4)


def test_edit_counts_and_substitution_pairs_by_hand():
    from whisper_pipeline.evaluation.metrics import summarize, utterance_errors

    # ref "idemo u grad sutra" vs hyp "idemo na grad sutra ujutro": 1 substitution (u→na), 1 insertion
    e = utterance_errors("Idemo u grad sutra.", "idemo na grad sutra ujutro")
    assert (e.words, e.substitutions, e.deletions, e.insertions) == (4, 1, 0, 1)
    assert e.substitution_pairs == [("u", "na")] and e.wer == 0.5
    d = utterance_errors("Kiša pada cijeli dan", "kiša dan")
    assert (d.deletions, d.substitutions, d.insertions) == (2, 0, 0)
    s = summarize([e, d])
    assert s["wer"] == pytest.approx(4 / 8) and (s["substitutions"], s["deletions"], s["insertions"]) == (1, 2, 1)
    assert s["top_substitutions"] == [{"reference": "u", "hypothesis": "na", "count": 1}]
    assert s["wer"] == pytest.approx(jiwer.wer([e.reference, d.reference], [e.hypothesis, d.hypothesis]), abs=1e-4)
    assert s["cer"] == pytest.approx(jiwer.cer([e.reference, d.reference], [e.hypothesis, d.hypothesis]), abs=1e-4)


def test_bootstrap_interval_brackets_the_estimate_and_narrows_with_data():
    from whisper_pipeline.evaluation.metrics import summarize, utterance_errors

    few = [utterance_errors("jedan dva tri", h) for h in ("jedan dva tri", "jedan dva", "jedan")]
    many = few * 30
    a, b = summarize(few), summarize(many)
    assert a["wer_ci95"][0] <= a["wer"] <= a["wer_ci95"][1]
    assert b["wer"] == a["wer"]
    assert (b["wer_ci95"][1] - b["wer_ci95"][0]) < (a["wer_ci95"][1] - a["wer_ci95"][0])


def test_paired_comparison_tells_real_improvements_from_noise():
    from whisper_pipeline.evaluation.metrics import paired_comparison, utterance_errors

    refs = [f"ovo je rečenica broj {w}" for w in ("jedan", "dva", "tri", "četiri", "pet", "šest", "sedam", "osam")] * 5
    bad = [utterance_errors(r, "nešto sasvim drugo") for r in refs]
    good = [utterance_errors(r, r) for r in refs]
    better = paired_comparison(bad, good)
    assert better["wer_difference"] < 0 and better["significant"] and better["p_value"] < 0.05
    same = paired_comparison(good, good)
    assert same["wer_difference"] == 0 and not same["significant"] and same["p_value"] == 1.0
    with pytest.raises(ValueError):
        paired_comparison(good, good[:-1])


def test_breakdown_by_group():
    from whisper_pipeline.evaluation.metrics import breakdown, utterance_errors

    items = [utterance_errors("a b", "a b"), utterance_errors("a b", "a"), utterance_errors("c d", "x y")]
    out = breakdown(items, ["ana", "ana", "ivo"])
    assert out["ana"]["wer"] == 0.25 and out["ivo"]["wer"] == 1.0 and out["ana"]["utterances"] == 2
