"""Integrated loudness (ITU-R BS.1770, as ``pyloudnorm`` measures it) of a signal read block by block.

``pyloudnorm.Meter.integrated_loudness`` wants the whole signal at once, in float64: an hour at 16 kHz is
460 MB, twice over with its filtered copy. The same computation a block at a time: its K-weighting filters
run with their state carried from block to block (``scipy.signal.lfilter`` with ``zi``: the same recursion),
each 400 ms gating block's mean square is summed exactly as pyloudnorm sums it, over the same sample
bounds, and the gating is pyloudnorm's. The result equals pyloudnorm's (tested).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

BLOCK_S = 0.400  # pyloudnorm's (and BS.1770's) gating block
STEP = 0.25  # 75% overlap
ABSOLUTE_GATE = -70.0


def integrated_loudness(blocks: Iterable[np.ndarray], rate: int) -> float:
    """LUFS of the mono signal that ``blocks`` make up, one after another (-inf for silence)."""
    import pyloudnorm
    from scipy.signal import lfilter

    stages = [(f.passband_gain, f.b, f.a) for f in pyloudnorm.Meter(rate)._filters.values()]
    states = [np.zeros(max(len(a), len(b)) - 1) for _, b, a in stages]
    kept = np.zeros(0)  # filtered samples from ``kept_from`` on, as far as blocks still need them
    kept_from = n = 0
    z: list[float] = []  # mean square of each gating block, in order

    def bounds(j: int) -> tuple[int, int]:
        return int(BLOCK_S * (j * STEP) * rate), int(BLOCK_S * (j * STEP + 1) * rate)

    def close_blocks(available: int, final: bool, count: int | None = None) -> None:
        nonlocal kept, kept_from
        while count is None or len(z) < count:
            lo, hi = bounds(len(z))
            if hi > available and not final:
                break
            z.append((1.0 / (BLOCK_S * rate)) * np.sum(np.square(kept[lo - kept_from : hi - kept_from])))
        lo = bounds(len(z))[0]
        if lo > kept_from:
            kept, kept_from = kept[lo - kept_from :], lo

    for block in blocks:
        x = np.asarray(block, dtype=np.float64)
        for i, (gain, b, a) in enumerate(stages):
            x, states[i] = lfilter(b, a, x, zi=states[i])
            x = gain * x
        kept = np.concatenate([kept, x])
        n += x.size
        close_blocks(n, final=False)
    total = int(np.round((n / rate - BLOCK_S) / (BLOCK_S * STEP))) + 1
    if len(z) < total:
        close_blocks(n, final=True, count=total)
    z_all = np.asarray(z[:total])
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10.0 * np.log10(z_all)
    gated = z_all[loud >= ABSOLUTE_GATE]
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = -0.691 + 10.0 * np.log10(np.mean(gated)) - 10.0 if gated.size else np.nan
        final = z_all[(loud > relative) & (loud > ABSOLUTE_GATE)]
        mean = float(np.nan_to_num(np.mean(final))) if final.size else 0.0
        return float(-0.691 + 10.0 * np.log10(mean))
