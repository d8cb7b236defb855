#!/usr/bin/env bash
# Runs the fuzz targets built by fuzz/build.sh, each for a bounded time, and prints one
# line per target: executions, rate, time, crashes. `fuzz/run.sh [target...]` (all when
# none is named). Exits non-zero when any target crashed; the input that crashed it is
# kept as .build/fuzz/crashes/<target>-crash-<sha1>, to replay with `.build/fuzz/<target> FILE`.
#
#   FUZZ_SECONDS  time per target (default 600)
#   FUZZ_RUNS     stop a target after this many executions instead (default: time only)
#   FUZZ_RSS_MB   memory limit per target; more is reported as a crash (default 2048)
#   FUZZ_OUT      where the binaries, grown corpora, logs and crashes are (default .build/fuzz)
#
# Seeds come from fuzz/corpus/<target> and are only read; what the fuzzer learns grows in
# .build/fuzz/corpus/<target>, so later runs start from there.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_OUT:-$root/.build/fuzz}
seconds=${FUZZ_SECONDS:-600}
runs=${FUZZ_RUNS:--1}
rss_mb=${FUZZ_RSS_MB:-2048}
all_targets=(dhcp-message relay-agent-information udp-frame tftp-packet zone-loader)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

# Largest input tried: past each codec's own limit (DHCP refuses more than 4096 bytes),
# and room for a zone file of a few hundred lines.
max_len() { case $1 in zone-loader) echo 65536 ;; *) echo 8192 ;; esac; }

failed=0
mkdir -p "$out/crashes" "$out/logs"
printf '%-24s %14s %10s %8s %8s\n' target executions exec/s seconds crashes
for target in "${targets[@]}"; do
    binary=$out/$target
    [ -x "$binary" ] || { echo "fuzz/run.sh: $binary is not built: run fuzz/build.sh" >&2; exit 2; }
    mkdir -p "$out/corpus/$target"
    log=$out/logs/$target.log
    start=$(date +%s)
    # An input slower than 10 s is reported as a crash (a hang in a codec is a bug too).
    seeds=()
    [ -d "$root/fuzz/corpus/$target" ] && seeds=("$root/fuzz/corpus/$target")
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$binary" "$out/corpus/$target" "${seeds[@]}" \
        -max_total_time="$seconds" -runs="$runs" -rss_limit_mb="$rss_mb" -timeout=10 \
        -max_len="$(max_len "$target")" -print_final_stats=1 -artifact_prefix="$out/crashes/$target-" \
        > "$log" 2>&1
    status=$?
    elapsed=$(( $(date +%s) - start ))
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    # libFuzzer stops at the first crash, hang or memory blow-up and prints one SUMMARY for it.
    crashes=$(grep -c '^SUMMARY: ' "$log")
    # Any other failure (bad flag, missing folder) ran nothing: say so rather than count it.
    [ $status = 0 ] || [ "$crashes" -gt 0 ] || { echo "fuzz/run.sh: $target did not run (exit $status):" >&2
        tail -n 3 "$log" >&2; failed=1; continue; }
    printf '%-24s %14s %10s %8s %8s\n' "$target" "${executions:-?}" "${rate:-?}" "$elapsed" "$crashes"
    if [ "$crashes" -gt 0 ]; then
        failed=1
        echo "  $target crashed (exit $status): see $log"
        grep -m 3 'Fatal error\|ERROR: \|Test unit written to' "$log" | sed 's/^/  /'
    fi
done
exit $failed
