#!/usr/bin/env bash
# Everything a session with a GPU should run, in one call of the device tool (whose
# machine has torch and triton but no package registry):
#   bash benchmarks/gpu_session.sh            # results and logs into $OUT (or benchmarks/results)
# 1. installs this tree without dependencies, 2. runs the GPU tests (real Triton
# compilation, CUDA graphs, the equivalence suite on CUDA), 3. runs the simulation
# benchmark (CUBA and COBA, 4k to 256k neurons, snncc-triton vs eager PyTorch), 4. the
# layer benchmark (TARGETS.md: T=32, 4M neurons, LIF/ALIF/Izhikevich; LAYER_ARGS overrides).
# SIM_ARGS overrides the benchmark's arguments (e.g. SIM_ARGS="--sizes 4000 --duration 200").
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-deps --no-build-isolation -e . || exit 1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" \
    | tee -a "$OUT/gpu.txt"
timeout 420 python3 -m pytest -q -m gpu -p no:cacheprovider tests/test_triton_backend.py \
    tests/test_triton_primitives.py tests/test_equivalence.py tests/test_triton_layer.py \
    2>&1 | tee "$OUT/gpu_tests.log"
# shellcheck disable=SC2086
python3 benchmarks/simulation.py --out "$OUT" ${SIM_ARGS:-} 2>&1 | tee "$OUT/simulation.log"
# shellcheck disable=SC2086
python3 benchmarks/layers.py --out "$OUT" ${LAYER_ARGS:-} 2>&1 | tee "$OUT/layers.log"
