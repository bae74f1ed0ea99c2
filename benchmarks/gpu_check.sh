#!/usr/bin/env bash
# The CUDA check, on a machine with a GPU, from the repository root:
#
#     benchmarks/gpu_check.sh [OUT.json]
#
# 1. the CUDA tests (pytest -m cuda: no host synchronisation in the training steps, TF32, fp16, compile);
# 2. training throughput of the toy MLP (WGAN-GP), DCGAN 32 (WGAN), ResNet-32 (WGAN-GP) and DCGAN 64 (WGAN)
#    configurations in fp32, bf16 and fp16, without and with --compile (benchmarks/throughput.py);
# 3. with two GPUs or more, a DDP smoke run: `wgan train --nproc 2` (NCCL) against one process, same seed.
# It writes one JSON object to OUT.json (default gpu_check.json): the tests' outcome and log tail, one row per
# throughput run (a run that failed says so), and the DDP run's outcome. Each step has a time limit, so one
# stuck step cannot eat the rest.
#
# Knobs, as environment variables: WINDOW (timed generator iterations per window, default 30), WARMUP
# (default 5), CONFIGS (default "toy dcgan32 resnet32 dcgan64"), PRECISIONS (default "fp32 bf16 fp16"),
# COMPILE (default "off on"; "off" alone saves the compile time, about half of the run).
#
# wgan needs its dependencies importable: `pip install -e .` where the machine has a network; on a closed one
# whose Python has torch, only POT is usually missing - carry its wheel and put it on PYTHONPATH first. The
# script runs wgan from src/ when it is not installed.
set -uo pipefail
case "${1:-}" in
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "gpu_check.sh: error: unknown option '$1': the one argument is the output file OUT.json (see --help)" >&2
        exit 2 ;;
esac
if [ $# -gt 1 ]; then
    echo "gpu_check.sh: error: one argument at most, the output file OUT.json (see --help)" >&2
    exit 2
fi
cd "$(dirname "$0")/.."
out=${1:-gpu_check.json}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python=${PYTHON:-python3}
$python -c "import wgan" 2>/dev/null || export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
window=${WINDOW:-30}
warmup=${WARMUP:-5}

echo "== CUDA tests"
timeout 600 $python -m pytest -m cuda -n 0 -q -p no:cacheprovider tests/test_cuda.py >"$work/tests.log" 2>&1
echo $? >"$work/tests.status"
tail -3 "$work/tests.log"

echo "== throughput"
for config in ${CONFIGS:-toy dcgan32 resnet32 dcgan64}; do
  for precision in ${PRECISIONS:-fp32 bf16 fp16}; do
    for compile in ${COMPILE:-off on}; do
      flag=""; [ "$compile" = on ] && flag="--compile"
      echo "-- $config $precision compile=$compile"
      if ! timeout 300 $python benchmarks/throughput.py --config "$config" --precision "$precision" $flag \
          --window "$window" --warmup "$warmup" --json "$work/throughput.jsonl" >"$work/run.log" 2>&1; then
        printf '{"config": "%s", "precision": "%s", "compile": %s, "failed": %s}\n' "$config" "$precision" \
          "$([ "$compile" = on ] && echo true || echo false)" \
          "$($python -c 'import json,sys; print(json.dumps(sys.stdin.read()[-1500:]))' <"$work/run.log")" \
          >>"$work/throughput.jsonl"
      fi
      tail -4 "$work/run.log"
    done
  done
done

echo "== DDP on two GPUs"
gpus=$($python -c "import torch; print(torch.cuda.device_count())")
if [ "$gpus" -ge 2 ]; then
  flags=(--iterations 200 --eval-every 100 --quiet --out "$work/ddp" --lr-decay none)
  timeout 600 $python -m wgan train "${flags[@]}" --name one >"$work/ddp.log" 2>&1 &&
    timeout 600 $python -m wgan train "${flags[@]}" --name two --nproc 2 >>"$work/ddp.log" 2>&1
  echo $? >"$work/ddp.status"
else
  echo "skipped: $gpus GPU(s)" >"$work/ddp.log"
  echo "none" >"$work/ddp.status"
fi
tail -3 "$work/ddp.log"

$python - "$work" "$out" <<'EOF'
import json, sys
from pathlib import Path
work, out = Path(sys.argv[1]), Path(sys.argv[2])
result = {
    "tests": {"status": (work / "tests.status").read_text().strip(), "log": (work / "tests.log").read_text()[-3000:]},
    "throughput": [json.loads(line) for line in (work / "throughput.jsonl").read_text().splitlines()]
                  if (work / "throughput.jsonl").is_file() else [],
    "ddp": {"status": (work / "ddp.status").read_text().strip(), "log": (work / "ddp.log").read_text()[-3000:]},
}
ddp = work / "ddp"
if (ddp / "two").is_dir():
    import torch
    one, two = (torch.load(ddp / name / "checkpoints" / "latest.pt", weights_only=True, map_location="cpu")
                for name in ("one", "two"))
    result["ddp"]["max_weight_gap"] = max((one[net][key] - two[net][key]).abs().max().item()
                                          for net in ("generator", "critic") for key in one[net])
out.write_text(json.dumps(result, indent=1))
print(f"written: {out}")
EOF
