#!/usr/bin/env bash
# Issue 16's GPU figures in one command on a lent GPU machine (~9 min of its 15): alignment in batches vs one file
# at a time (random-init whisper-base), then training, ours vs the plain recipe (random-init whisper-base, with the
# data path compared to this run's step rate, then whisper-small). Real weights, espeak-ng, ffmpeg and PyAV are not
# there: `bench/gpu_kit.py` packs the clips, the tokenizer and the missing wheels into .gpu_kit/ first. Launch:
#   .venv/bin/python bench/gpu_kit.py                                   # here, once
#   device run(command="bash bench/gpu_check.sh", carry=[".gpu_kit"], timeout_s=590)
# The parts share a budget (GPU_CHECK_BUDGET seconds from the start, under the call's limit): each runs under its
# share or what is left, whichever is less, so one that hangs leaves the others their time; every part's exit
# status goes to summary.log, and the script fails if any part did. The logs come back in $OUT.
# GPU_CHECK_SMOKE=1 runs the same steps on this machine's CPU with a tiny model (the test of this script).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
KIT=${GPU_CHECK_KIT:-.gpu_kit}
OUT=${OUT:-/tmp/gpu_check}
PY=${GPU_CHECK_PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false WHISPER_PIPELINE_WORKSPACE=/tmp/gpu_check_ws
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
[ -f "$KIT/tokenizer.json" ] || { echo "no $KIT/tokenizer.json: run bench/gpu_kit.py first" >&2; exit 2; }

if [ "${GPU_CHECK_SMOKE:-0}" = 1 ]; then
  device=cpu model=test big="" batch=2 steps=2 repeats=1 clips=3 threads=1 workers=2 shares=(300 300 0)
  budget=${GPU_CHECK_BUDGET:-800}
else
  device=cuda model=base big=small batch=32 steps=30 repeats=2 clips=48 threads=8 workers=4 shares=(110 180 600)
  budget=${GPU_CHECK_BUDGET:-550}
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$KIT"/wheels/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PYTHONPATH
  nvidia-smi 2>&1 | tee "$OUT/env.log"
fi
"$PY" -c "import torch, transformers, huggingface_hub, datasets, stable_whisper; print('torch', torch.__version__,
'transformers', transformers.__version__, transformers.__file__, 'hub', huggingface_hub.__version__,
'cuda', torch.cuda.is_available())" 2>&1 | tee -a "$OUT/env.log" || exit 1

failed=0
part() {  # part NAME SHARE COMMAND...: under the smaller of SHARE and what is left of the budget
  local name=$1 share=$2 left cap rc
  shift 2
  left=$((budget - SECONDS - 5))
  cap=$((share < left ? share : left))
  if ((cap < 30)); then
    echo "[$name: skipped, ${left} s left of the budget]" | tee -a "$OUT/summary.log"
    failed=1
    return
  fi
  timeout -k 10 "$cap" "$@" 2>&1 | tee "$OUT/$name.log"
  rc=${PIPESTATUS[0]}
  echo "[$name: exit $rc$( ((rc == 124)) && echo ' (cut at its cap)'), cap $cap s, $SECONDS s since the start]" \
    | tee -a "$OUT/summary.log"
  ((rc == 0)) || failed=1
}

part alignment "${shares[0]}" "$PY" bench/batched_throughput.py --device "$device" --random-init "$model" \
  --tokenizer "$KIT/tokenizer.json" --clips-from "$KIT/align/clips.json" --clips "$clips" --batch-size 16 \
  --threads "$threads" --rounds 2 --skip transcription
train=(bench/training_throughput.py --device "$device" --batch "$batch" --steps "$steps" --repeats "$repeats"
  --manifest "$KIT/train/manifest.jsonl" --tokenizer "$KIT/tokenizer.json" --workers "$workers"
  --loader-workers "$workers")
part "training_$model" "${shares[1]}" "$PY" "${train[@]}" --parts train,data --models "$model"
[ -z "$big" ] || part "training_$big" "${shares[2]}" "$PY" "${train[@]}" --parts train --models "$big"
echo "logs: $OUT"
exit "$failed"
