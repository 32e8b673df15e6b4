#!/usr/bin/env bash
# One step of the GPU recipe, run ON the lent GPU machine from the repo root.
# See scripts/gpu_recipe.py and the README ("Full-length runs on a GPU machine").
#
#   bash scripts/gpu_session.sh unpack .device/chunk1      # once per data chunk (call 1, 2, 3…)
#   bash scripts/gpu_session.sh train SECONDS [dlcore.engine.cli arguments…]
#
# `train` runs `python -m dlcore.run … --preset full` with KERAS_BACKEND=jax for at
# most SECONDS (runs still going then are cancelled and say so), and tars the
# run folders into $OUT/runs.tar.gz, to be unpacked into cached_runs/ here.
set -euo pipefail
cache=/tmp/dlcore_cache
# The machine has JAX but no Keras: install the carried wheels once (kept while warm).
if ! PYTHONPATH=/tmp/site python3 -c "import keras, namex, optree" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .device/chunk1/wheels/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
export DLCORE_DATASETS=$cache/datasets XLA_PYTHON_CLIENT_PREALLOCATE=false
export DLCORE_CODE_REVISION=${DLCORE_CODE_REVISION:-$(cat .device/revision 2>/dev/null || echo unknown)}
step=$1; shift
case "$step" in
  unpack)
    time python3 scripts/gpu_recipe.py unpack "$1" --cache $cache
    python3 -c "import jax, keras; print('keras', keras.__version__, 'jax', jax.__version__, jax.devices())"
    ;;
  train)
    # train SECONDS GROUP [GROUP…]: each GROUP is one quoted set of dlcore.engine.cli arguments,
    # optionally starting with PRECISION=<keras dtype policy>; groups train at the same
    # time on the one GPU (small models leave most of it idle).
    seconds=$1; shift
    python3 scripts/gpu_recipe.py check --cache $cache || true
    out=/tmp/gpu_runs
    mkdir -p $out "${OUT:-/tmp}"
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 15 > "${OUT:-/tmp}/gpu_util.csv" 2>/dev/null &
    smi=$!
    n=0
    pids=()
    for group in "$@"; do
      n=$((n + 1))
      precision=float32
      case "$group" in PRECISION=*) precision=${group%% *}; precision=${precision#PRECISION=}; group=${group#* } ;; esac
      # shellcheck disable=SC2086  # the group is a list of arguments
      DLCORE_PRECISION=$precision python3 -m dlcore.run $group --preset full --out $out --deadline "$seconds" \
        > "${OUT:-/tmp}/group$n.log" 2>&1 &
      pids+=($!)
    done
    wait "${pids[@]}" || true
    kill $smi 2>/dev/null || true
    tail -n 15 "${OUT:-/tmp}"/group*.log
    tar -czf "${OUT:-/tmp}/runs.tar.gz" -C $out --exclude='checkpoint*.keras' --exclude='.checkpoint*' --exclude='.*.tmp' .
    ls -la "${OUT:-/tmp}/runs.tar.gz"
    ;;
  *) echo "unknown step $step" >&2; exit 2 ;;
esac
