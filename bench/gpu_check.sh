#!/usr/bin/env bash
# The GPU check of issue 19's cuDNN path, prepared for a session that has a CUDA GPU:
#
#     bash bench/gpu_check.sh            # from the repository root; results in $OUT (or a temp folder)
#
# 1. tests/test_cudnn_path.py, including test_gpu_cudnn_sweep_matches_scan (cuDNN's own
#    kernels against the scan, one member, TF32 off; it is skipped on a CPU, as in CI);
# 2. W1, one member: fastlstm with recurrent_impl="scan" (the batched hand-written layer);
# 3. W1, S in $GPU_CHECK_MEMBERS (default 1 64 1024): fastlstm with recurrent_impl="auto"
#    (cuDNN for the one-member S=1, the scan for the rest) against PyTorch's cuDNN nn.LSTM
#    trained one member after another;
# 4. a markdown table of both (bench/gpu_table.py): S=1 cuDNN against the scan, the
#    target "64 members in at most 2x the wall time of 1", and fastlstm against torch.
# About 6-8 minutes on an H100 (torch's 1024 sequential members are most of it; each run
# is cut at $GPU_CHECK_TIMEOUT seconds, default 240, and then shows as failed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-$(mktemp -d)}
MEMBERS=${GPU_CHECK_MEMBERS:-1 64 1024}
WORKLOAD=${GPU_CHECK_WORKLOAD:-W1}  # "tiny" (with GPU_CHECK_MEMBERS="1 2"): a dry run of the script
TIMEOUT=${GPU_CHECK_TIMEOUT:-240}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT"

# Install only what is missing: [test,bench]'s needs, and JAX for CUDA where JAX sees no GPU.
# A machine that cannot reach a registry (some GPU images have JAX for CUDA, flax, optax,
# torch and pytest but not pydantic or tomli-w) installs wheels carried in .whl/ instead:
# pydantic, pydantic-core, annotated-types, typing-inspection and tomli-w, downloaded
# elsewhere for its Python (`pip download --no-deps --only-binary=:all: --python-version ...`).
if ! "$PY" -c "import jax, flax, optax, pydantic, tomli_w, rich, torch, pytest" 2>/dev/null; then
  if ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    export PYTHONPATH="$PYTHONPATH:/tmp/site"
  elif "$PY" -c "import jax; assert jax.default_backend() == 'gpu'" 2>/dev/null; then
    "$PY" -m pip install -q -e '.[test,bench]'
  else
    "$PY" -m pip install -q -e '.[test,bench]' "jax[cuda12]"
  fi
fi
"$PY" - <<'EOF'
import jax
import fastlstm.cudnn as cudnn
print("JAX", jax.__version__, "backend", jax.default_backend(), jax.devices())
print("cuDNN's RNN kernels available:", cudnn.cudnn_available())
EOF

echo "== 1. tests/test_cudnn_path.py"
timeout 240 "$PY" -m pytest tests/test_cudnn_path.py -q -rs -p no:cacheprovider 2>&1 | tee "$OUT/gpu_check_tests.txt" || true

bench() {  # fastlstm bench, no idle wait (the machine is ours), no matmul peak (time)
  "$PY" -m fastlstm.cli bench --workload "$WORKLOAD" --no-peak --wait-quiet 0 --timeout "$TIMEOUT" --quiet "$@" || true
}
echo "== 2. $WORKLOAD S=1, fastlstm recurrent_impl=scan"
bench --members 1 --systems fastlstm --recurrent-impl scan --json "$OUT/bench_scan.json"
echo "== 3. $WORKLOAD S=$MEMBERS, fastlstm recurrent_impl=auto against torch"
# shellcheck disable=SC2086  # MEMBERS is a list of numbers
bench --members $MEMBERS --systems fastlstm torch --json "$OUT/bench_auto.json"

echo "== 4. table"
"$PY" bench/gpu_table.py "$OUT/bench_scan.json" "$OUT/bench_auto.json" | tee "$OUT/gpu_check.md"
echo "results in $OUT"
