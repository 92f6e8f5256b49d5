import json

from whisper_pipeline.data.splits import assign_speakers, make_splits, small_subset


def rows(n_speakers: int, per_speaker: int = 3) -> list[dict]:
    return [
        {"file_id": f"hr-s{s}-u{u}", "audio": f"/a/{s}/{u}.wav", "transcript_norm": "x", "duration_s": 1.0,
         "speaker": f"s{s}", "sha256": f"{s}{u}"}
        for s in range(n_speakers) for u in range(per_speaker)
    ]


def test_speaker_disjoint_and_every_split_present():
    out = make_splits(rows(10), "hr", seed=7)
    speakers = {split: {r["speaker"] for r in lines} for split, lines in out.items()}
    assert all(speakers.values())
    assert not (speakers["train"] & speakers["test"]) and not (speakers["train"] & speakers["validation"])
    assert not (speakers["validation"] & speakers["test"])
    assert sum(len(v) for v in out.values()) == 30


def test_same_seed_same_split_byte_for_byte_and_seed_matters():
    dump = lambda o: json.dumps(o, sort_keys=True)  # noqa: E731
    assert dump(make_splits(rows(10), "hr", seed=7)) == dump(make_splits(list(reversed(rows(10))), "hr", seed=7))
    assigned = {seed: assign_speakers([f"s{i}" for i in range(10)], seed, "hr", 0.1, 0.1) for seed in range(5)}
    assert len({dump(a) for a in assigned.values()}) > 1


def test_small_speaker_counts():
    assert set(assign_speakers(["a", "b"], 1, "hr", 0.1, 0.1).values()) == {"train", "test"}
    assert set(assign_speakers(["a"], 1, "hr", 0.1, 0.1).values()) == {"train"}
    three = assign_speakers(["a", "b", "c"], 1, "hr", 0.1, 0.1)
    assert sorted(three.values()) == ["test", "train", "validation"]


def test_small_subset_round_robins_speakers():
    out = make_splits(rows(10, per_speaker=5), "hr", seed=3)
    subset = small_subset(out, per_split=4)
    train = [r for r in subset if r["split"] == "train"]
    assert len(train) == 4 and len({r["speaker"] for r in train}) == 4
