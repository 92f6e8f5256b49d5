import itertools
import json

import pytest

from whisper_pipeline.data.manifests import ManifestLine
from whisper_pipeline.data.splits import (
    SPLITS,
    Assignments,
    SplitPolicy,
    group_hash,
    make_splits,
    small_subset,
)


def rows(speakers, per_speaker: int = 3, seconds: float = 1.0, prefix: str = "s") -> list[dict]:
    names = [f"{prefix}{i}" for i in range(speakers)] if isinstance(speakers, int) else speakers
    return [
        {
            "file_id": f"hr-{s}-u{u}",
            "audio": f"/a/{s}/{u}.wav",
            "transcript_norm": "x",
            "duration_s": seconds,
            "speaker": s,
            "sha256": f"{s}{u}",
        }
        for s in names
        for u in range(per_speaker)
    ]


def split_of(out: dict) -> dict[str, str]:
    return {r.speaker: split for split, lines in out.items() for r in lines}


def dump(out) -> str:
    return json.dumps(out, sort_keys=True, default=ManifestLine.to_dict)


def test_speaker_disjoint_and_every_split_present():
    out, _, summary = make_splits(rows(10), "hr", SplitPolicy(seed=7))
    speakers = {split: {r.speaker for r in lines} for split, lines in out.items()}
    assert all(speakers.values())
    assert not (speakers["train"] & speakers["test"]) and not (speakers["train"] & speakers["validation"])
    assert not (speakers["validation"] & speakers["test"])
    assert sum(len(v) for v in out.values()) == 30
    assert summary["groups_by_kind"] == {"speaker": 10}
    line = out["train"][0].to_dict()
    assert set(line) == {
        "id",
        "audio",
        "transcript",
        "duration",
        "language",
        "speaker",
        "split",
        "source",
        "group",
        "sha256",
    }


def test_same_inputs_and_seed_give_byte_identical_manifests():
    a, assign_a, _ = make_splits(rows(10), "hr", SplitPolicy(seed=7))
    b, assign_b, _ = make_splits(list(reversed(rows(10))), "hr", SplitPolicy(seed=7))
    assert dump(a) == dump(b) and assign_a.to_json() == assign_b.to_json()
    seeds = {dump(split_of(make_splits(rows(10), "hr", SplitPolicy(seed=s))[0])) for s in range(6)}
    assert len(seeds) > 1, "the seed matters"


def test_assignment_follows_the_hash_of_seed_and_speaker():
    policy = SplitPolicy(seed=3, validation_ratio=0.2, test_ratio=0.2)
    out, _, _ = make_splits(rows(400, per_speaker=1), "hr", policy)
    for speaker, split in split_of(out).items():
        u = group_hash(3, "hr", speaker)
        assert split == ("test" if u < 0.2 else "validation" if u < 0.4 else "train")
    counts = {s: len(v) for s, v in out.items()}
    assert 50 < counts["test"] < 110 and 50 < counts["validation"] < 110, counts


def test_stable_under_growth_no_existing_speaker_ever_moves():
    """Add new speakers in several rounds (as scheduled retraining would); nobody already assigned moves."""
    policy = SplitPolicy(seed=11, min_test_hours=0.005)
    corpus = rows(4, seconds=5.0)
    out, remembered, _ = make_splits(corpus, "hr", policy)
    history = split_of(out)
    assert set(history.values()) == {"train", "validation", "test"}, "small corpus: every split gets a speaker"
    for round_ in range(4):
        corpus += rows(7, seconds=5.0, prefix=f"new{round_}_")
        out, remembered, summary = make_splits(corpus, "hr", policy, remembered)
        now = split_of(out)
        assert {s: now[s] for s in history} == history, f"round {round_}: an existing speaker changed split"
        assert len(summary["new_groups"]) == 7 and summary["kept_groups"] == len(history)
        history = now
    old_test = {s for s, split in history.items() if split == "test"}
    assert old_test and not old_test & {r.speaker for r in out["train"]}, "no old test speaker leaks into training"


def test_seed_change_is_the_only_reshuffle():
    _, remembered, _ = make_splits(rows(6), "hr", SplitPolicy(seed=1))
    kept, reshuffled = Assignments.from_json(remembered.to_json(), seed=1)
    assert not reshuffled and kept.groups == remembered.groups
    fresh, reshuffled = Assignments.from_json(remembered.to_json(), seed=2)
    assert reshuffled and fresh.groups == {}


def test_minimum_test_hours_moves_only_new_speakers():
    policy = SplitPolicy(seed=5, test_ratio=0.1, validation_ratio=0.1, min_test_hours=3 * 3 * 600 / 3600)
    out, _, _ = make_splits(rows(12, seconds=600), "hr", policy)  # 0.5 h per speaker
    test_hours = sum(r.duration for r in out["test"]) / 3600
    assert test_hours >= policy.min_test_hours and out["train"]


def test_small_speaker_counts():
    assert set(split_of(make_splits(rows(2), "hr")[0]).values()) == {"train", "test"}
    assert set(split_of(make_splits(rows(1), "hr")[0]).values()) == {"train"}
    assert sorted(split_of(make_splits(rows(3), "hr")[0]).values()) == ["test", "train", "validation"]


def test_unknown_speakers_fall_back_to_source_then_file():
    data = rows(["unknown"], per_speaker=4)
    for i, r in enumerate(data):
        r["source"] = "Generic:video1" if i < 2 else "upload"
    out, _, summary = make_splits(data, "hr", SplitPolicy(seed=2))
    groups = {r.id: r.group for lines in out.values() for r in lines}
    assert summary["groups_by_kind"] == {"file": 2, "source": 1}
    assert groups["hr-unknown-u0"] == groups["hr-unknown-u1"] == "source:Generic:video1"
    assert groups["hr-unknown-u2"] == "file:hr-unknown-u2"
    video = {split for split, lines in out.items() for r in lines if r.group == "source:Generic:video1"}
    assert len(video) == 1, "one video's utterances stay together"


def test_bad_ratios_are_refused():
    with pytest.raises(ValueError, match="split ratios"):
        SplitPolicy(validation_ratio=0.6, test_ratio=0.5)


def test_small_subset_round_robins_speakers():
    out, _, _ = make_splits(rows(10, per_speaker=5), "hr", SplitPolicy(seed=3))
    subset = small_subset(out, per_split=4)
    train = [r for r in subset if r.split == "train"]
    assert len(train) == 4 and len({r.speaker for r in train}) == 4


def _hashed_split(name: str, policy: SplitPolicy) -> str:
    u = group_hash(policy.seed, "hr", name)
    return (
        "test"
        if u < policy.test_ratio
        else "validation"
        if u < policy.test_ratio + policy.validation_ratio
        else "train"
    )


def _names_by_hashed_split(policy: SplitPolicy, per_split: int = 5) -> dict[str, list[str]]:
    """Speaker names that the hash alone sends to each split, so any assignment pattern can be built."""
    pools: dict[str, list[str]] = {s: [] for s in SPLITS}
    i = 0
    while min(len(p) for p in pools.values()) < per_split:
        name = f"spk{i}"
        if len(pools[_hashed_split(name, policy)]) < per_split:
            pools[_hashed_split(name, policy)].append(name)
        i += 1
    return pools


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_every_hash_pattern_fills_the_splits_its_speaker_count_allows(n):
    """Whichever splits the hash picks, 2 speakers give train+test and 3 or more give one per split,
    moving only as many speakers as needed; and the summary says why a split is empty."""
    policy = SplitPolicy()
    pools = _names_by_hashed_split(policy)
    for pattern in itertools.product(SPLITS, repeat=n):
        taken = {s: iter(pools[s]) for s in SPLITS}
        names = [next(taken[s]) for s in pattern]
        out, _, summary = make_splits(rows(names), "hr", policy)
        got = split_of(out)
        present = {s for s in got.values()}
        assert present == ({"train", "test"} if n == 2 else set(SPLITS)), (pattern, got)
        assert not summary["empty_splits"] or n == 2 and set(summary["empty_splits"]) == {"validation"}
        moved = [name for name in names if got[name] != _hashed_split(name, policy)]
        assert len(moved) == len(summary["moved"]) <= 2, (pattern, summary["moved"])
        missing = ({"train", "test"} if n == 2 else set(SPLITS)) - set(pattern)
        assert len(moved) == len(missing), (pattern, got)


@pytest.mark.parametrize("n_old", [1, 2, 3])
def test_top_up_moves_only_new_speakers_whatever_the_old_ones_hold(n_old):
    """Speakers remembered from earlier runs never move, whatever the pattern; new ones fill the gaps they can."""
    policy = SplitPolicy()
    pools = _names_by_hashed_split(policy, per_split=6)
    for old_pattern in itertools.product(SPLITS, repeat=n_old):
        for new_pattern in itertools.product(SPLITS, repeat=2):
            taken = {s: iter(pools[s]) for s in SPLITS}
            old = {next(taken[s]): s for s in old_pattern}
            new = [next(taken[s]) for s in new_pattern]
            remembered = Assignments(policy.seed, dict(old))
            out, _, summary = make_splits(rows([*old, *new]), "hr", policy, remembered)
            got = split_of(out)
            assert {g: got[g] for g in old} == old, "a speaker assigned before never moves"
            n = n_old + 2
            for split in ("train", "test", "validation")[: 1 + (n >= 2) + (n >= 3)]:
                if split not in got.values():  # only acceptable when no new speaker could be spared
                    assert split in summary["empty_splits"] and "earlier runs" in summary["empty_splits"][split]
                    counts = list(got.values())
                    assert all(counts.count(got[g]) == 1 for g in new), (old, new, got)


def test_empty_split_reason_names_the_cause():
    _, _, one = make_splits(rows(1), "hr")
    assert one["empty_splits"]["test"] == "only 1 speaker group(s); a test split needs at least 2"
    _, _, no_test = make_splits(rows(5), "hr", SplitPolicy(test_ratio=0.0))
    assert no_test["empty_splits"] == {"test": "test_ratio is 0"}
