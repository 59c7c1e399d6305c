#!/usr/bin/env bash
# Runs keyhold's Jazzer.js fuzz targets (fuzz/targets/*.fuzz.mjs) against the built code in dist/.
#
#   scripts/fuzz.sh [TARGET...]               fuzz each target for KEYHOLD_FUZZ_SECONDS (default 60)
#   scripts/fuzz.sh --regression [TARGET...]  run each target once over its seed corpus (CI)
#
# Fuzzing reads the committed seeds in fuzz/corpus/<target>/ and keeps what it learns in
# fuzz/.work/corpus/<target>/ (not committed); crashes land in fuzz/.work/artifacts/. It prints
# executions, coverage (libFuzzer's cov/ft) and new corpus entries per target, and exits 1 if any
# target found something. Runs under `nice`: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=fuzz
if [ "${1:-}" = --regression ]; then
  mode=regression
  shift
fi
seconds=${KEYHOLD_FUZZ_SECONDS:-60}

# name  sync|async  max_len  seconds-weight
targets=(
  "credential-header sync 256 1"
  "audit-log sync 4096 1"
  "vault-file async 8192 1"
  "fernet sync 1024 1"
  "jobserver-http async 2048 1"
  "jobs-client-http sync 2048 1"
  "jobs-config sync 2048 1"
  "dotenv sync 1024 1"
  "scan-policy sync 1024 1"
  "scan-ignore sync 1024 1"
  "git-history async 512 1"
  "unit sync 512 1"
  "scan-archive sync 8192 1"
  "scan-secret-data sync 4096 1"
  "scan-git-credentials sync 2048 1"
  "scan-utf16 sync 1024 1"
)

[ "${KEYHOLD_FUZZ_NO_BUILD:-}" = 1 ] || npm run --silent build
bash scripts/build-fuzzer-addon.sh

work=fuzz/.work
mkdir -p "$work/logs" "$work/artifacts"
failed=()
total=0
printf '%-20s %-10s %12s %8s %8s %8s %s\n' target result executions cov ft corpus seconds
for entry in "${targets[@]}"; do
  read -r name kind max_len weight <<<"$entry"
  if [ "$#" -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  log=$work/logs/$name.log
  args=(fuzz/targets/"$name".fuzz.mjs)
  [ "$kind" = sync ] && args+=(--sync)
  if [ "$mode" = regression ]; then
    # Without instrumentation: regression mode only replays the seeds, and starts in seconds.
    args+=(fuzz/corpus/"$name" --mode=regression --dry_run --timeout=20000 --)
  else
    mkdir -p "$work/corpus/$name"
    args+=("$work/corpus/$name" fuzz/corpus/"$name" --timeout=20000 --
      -max_total_time=$((seconds * weight)) -max_len="$max_len")
  fi
  args+=(-artifact_prefix="$work/artifacts/$name-" -print_final_stats=1)
  start=$SECONDS
  set +e
  nice -n 10 node_modules/.bin/jazzer "${args[@]}" >"$log" 2>&1
  code=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  stats=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$stats")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$stats")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$stats")
  result=ok
  if [ "$code" -ne 0 ]; then
    result="FAILED($code)"
    failed+=("$name")
  fi
  total=$((total + ${runs:-0}))
  printf '%-20s %-10s %12s %8s %8s %8s %s\n' "$name" "$result" "${runs:-?}" "${cov:--}" "${ft:--}" "${corp:--}" $((SECONDS - start))
done
echo "total executions: $total"
if [ "${#failed[@]}" -gt 0 ]; then
  for name in "${failed[@]}"; do
    echo "--- $name ($work/logs/$name.log):" >&2
    grep -v -E '^#[0-9]+|^INFO|pulse' "$work/logs/$name.log" | tail -30 >&2
  done
  exit 1
fi
