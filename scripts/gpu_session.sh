#!/usr/bin/env bash
# One step of the GPU recipe, run ON the lent GPU machine from the repo root.
# See scripts/gpu_recipe.py and the README ("Full-length runs on a GPU machine").
#
#   bash scripts/gpu_session.sh unpack .device/chunk1                 # every chunk but the last
#   DLCORE_CODE_REVISION=<commit> bash scripts/gpu_session.sh unpack-train .device/chunkN SECONDS [GROUP…]
#   DLCORE_CODE_REVISION=<commit> bash scripts/gpu_session.sh train SECONDS [GROUP…]   # data already there
#
# `train` continues every unfinished full run in cached_runs/ (this copy of the tree, with the
# checkpoints that travelled in it) with KERAS_BACKEND=jax for at most SECONDS: runs still going
# then are cancelled and keep every finished epoch. The run folders that changed come back as
# $OUT/runs-N.tar (gpu_recipe.py receive unpacks them here). Each GROUP is one quoted set of
# dlcore.run arguments, optionally starting with PRECISION=<keras dtype policy>; groups train
# at once on the one GPU. Without groups: every experiment, the ResNet ones in bfloat16.
set -euo pipefail
cache=/tmp/dlcore_cache
out=${OUT:-/tmp/gpu_out}
mkdir -p "$out"
install_wheels() {
  # The machine has JAX but no Keras: install the carried wheels (kept while the machine stays warm).
  if ! PYTHONPATH=/tmp/site python3 -c "import keras, namex, optree" 2>/dev/null; then
    wheels=$(ls "$1"/wheels/*.whl 2>/dev/null || ls .device/chunk*/wheels/*.whl 2>/dev/null || true)
    [ -n "$wheels" ] || { echo "no keras wheels here or in /tmp/site: unpack the chunk with wheels first" >&2; exit 2; }
    # shellcheck disable=SC2086
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site $wheels
  fi
}
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
export DLCORE_DATASETS=$cache/datasets XLA_PYTHON_CLIENT_PREALLOCATE=false
step=$1; shift
unpack() {
  [ -d "$1/wheels" ] && install_wheels "$1"
  time python3 scripts/gpu_recipe.py unpack "$1" --cache $cache
}
train() {
  # The revision is the commit of the clean tree carried here (gpu_recipe.py revision), never a guess.
  [ -n "${DLCORE_CODE_REVISION:-}" ] || { echo "set DLCORE_CODE_REVISION=\$(python scripts/gpu_recipe.py revision)" >&2; exit 2; }
  install_wheels .device/none
  seconds=$1; shift
  [ $# -gt 0 ] || set -- "PRECISION=mixed_bfloat16 resnet batch_augmentation --parallel 5" "clr batch_growth --parallel 2"
  python3 scripts/gpu_recipe.py check --cache $cache || true
  since=$(date +%s)
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 15 > "$out/gpu_util.csv" 2>/dev/null &
  smi=$!
  n=0
  pids=()
  for group in "$@"; do
    n=$((n + 1))
    precision=float32
    case "$group" in PRECISION=*) precision=${group%% *}; precision=${precision#PRECISION=}; group=${group#* } ;; esac
    # shellcheck disable=SC2086  # the group is a list of arguments
    DLCORE_PRECISION=$precision python3 -m dlcore.run $group --preset full --out cached_runs --deadline "$seconds" \
      > "/tmp/group$n.log" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  kill $smi 2>/dev/null || true
  tail -n 12 /tmp/group*.log | tee "$out/train.log"
  python3 scripts/gpu_recipe.py bring-back cached_runs "$out" --since "$since"
}
case "$step" in
  unpack) unpack "$1" ;;
  unpack-train) chunk=$1; shift; unpack "$chunk"; train "$@" ;;
  train) train "$@" ;;
  *) echo "unknown step $step" >&2; exit 2 ;;
esac
