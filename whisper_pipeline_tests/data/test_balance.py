from whisper_pipeline.data.balance import BalanceRules, build_balance, duration_bucket, snr_bucket


def rows(lang, speaker, n, seconds, snr=60.0, dialect=""):
    return [
        {"language": lang, "speaker": speaker, "duration_s": seconds, "snr_db": snr, "dialect": dialect}
        for _ in range(n)
    ]


def test_buckets():
    assert [snr_bucket(x) for x in (None, 3, 15, 25, 60)] == [
        "unknown",
        "noisy (<10 dB)",
        "moderate (10-20 dB)",
        "good (20-30 dB)",
        "clean (>=30 dB)",
    ]
    assert [duration_bucket(x) for x in (1, 3, 7, 15, 29)] == ["<2 s", "2-5 s", "5-10 s", "10-20 s", ">=20 s"]


def test_hours_by_every_axis_and_concrete_recommendations():
    data = {
        "hr": rows("hr", "ana", 60, 10.0, dialect="ijekavian")
        + rows("hr", "ivo", 20, 10.0, snr=5.0, dialect="ekavian")
        + [r for s in ("a", "b", "c", "d") for r in rows("hr", s, 5, 10.0)],
        "sr": rows("sr", "mila", 6, 3.0, snr=15.0, dialect="ekavian")
        + rows("sr", "zoran", 6, 3.0, dialect="ijekavian"),
        "bs": [],
    }
    balance = build_balance(data, BalanceRules(min_hours=0.01))
    assert balance["total"] == {"hours": round((1000 + 36) / 3600, 4), "utterances": 112, "speakers": 8}
    assert balance["by_language"]["hr"]["share_of_hours"] > 0.9 and balance["by_language"]["bs"]["utterances"] == 0
    assert balance["by_speaker"]["hr"]["ana"]["share_of_hours"] == 0.6
    assert balance["by_dialect"]["sr"] == {
        "ekavian": {"hours": 0.005, "utterances": 6, "share_of_hours": 0.5},
        "ijekavian": {"hours": 0.005, "utterances": 6, "share_of_hours": 0.5},
    }
    assert balance["by_snr"]["hr"]["noisy (<10 dB)"]["utterances"] == 20
    assert balance["by_duration"]["sr"] == {"2-5 s": {"hours": 0.01, "utterances": 12, "share_of_hours": 1.0}}
    messages = [r["message"] for r in balance["recommendations"]]
    expected = [
        "bs has no usable audio",
        "sr has 4% of hours: harvest about 0.27 h more sr speech to match the largest language, "
        "or weight sr sampling by about x27.8",
        "speaker ana is 60% of hr hours",
        "sr has only 2 speaker(s)",
        "20% of hr hours have ekavian transcripts",
        "sr mixes ekavian (50%) and ijekavian (50%)",
        "of sr hours are in utterances of 10 s or more",
    ]
    for text in expected:
        assert any(text in m for m in messages), (text, messages)
    assert balance["recommendations"][0]["severity"] == "warning"
    assert not any("noisy" in m and "hr" in m for m in messages), "20% noisy is at, not over, the limit"
    assert not any("speaker mila" in m for m in messages), "with 2 speakers the speaker-count warning says it all"
    assert not any(r["language"] == "bs" and r["topic"] != "language" for r in balance["recommendations"])
