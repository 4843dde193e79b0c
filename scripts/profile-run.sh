#!/usr/bin/env bash
# profile-run.sh: CPU and allocation profiles of the `sluice run` child of one
# `sluice bench` run (the process whose CPU-s/M the bench reports), and with
# --pgo the build profile cmd/sluice/default.pgo from the three modes.
#
#   scripts/profile-run.sh OUT [EVENTS [MODE [SECONDS]]]
#       OUT.cpu.prof (SECONDS of the child's run, from its first second on) and
#       OUT.allocs.prof (every allocation since the child started, taken at the
#       end of the CPU profile); OUT.bench.log holds the bench's report.
#       Defaults: 3000000 events, raw, 5 seconds. Read them with
#       `go tool pprof -top OUT.cpu.prof`.
#   scripts/profile-run.sh --pgo
#       profiles raw, raw+rollups (3M events each) and rollups (5M) and merges them
#       into cmd/sluice/default.pgo, which `go build ./cmd/sluice` then uses.
#
# The child serves its profiles on its admin address (SLUICE_PPROF=true), which
# the bench picks freely and the child logs; this script reads it from the log.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--pgo" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # Rollups alone drain 3M events in under 5 s; they get more.
  for run in raw:3000000 raw+rollups:3000000 rollups:5000000; do
    "$0" "$tmp/${run%%:*}" "${run#*:}" "${run%%:*}" 5
  done
  go tool pprof -proto "$tmp"/*.cpu.prof > cmd/sluice/default.pgo
  echo "wrote cmd/sluice/default.pgo"
  exit 0
fi

out=${1:?usage: scripts/profile-run.sh OUT [EVENTS [MODE [SECONDS]]] | --pgo}
events=${2:-3000000}
mode=${3:-raw}
seconds=${4:-5}

bin=$(mktemp -d)/sluice
go build -o "$bin" ./cmd/sluice
SLUICE_PPROF=true "$bin" bench --events "$events" --partitions 8 --runs 1 --mode "$mode" --v > "$out.bench.log" 2>&1 &
bench=$!
addr=""
for _ in $(seq 1 6000); do
  addr=$(grep -m1 -o 'msg="admin listening" addr=[0-9.:]*' "$out.bench.log" | sed 's/.*addr=//' || true)
  [[ -n "$addr" ]] && break
  kill -0 "$bench" 2>/dev/null || break
  sleep 0.05
done
if [[ -z "$addr" ]]; then
  wait "$bench" || true
  echo "profile-run: the child never logged its admin address; see $out.bench.log" >&2
  exit 1
fi
sleep 1 # past start-up: profile the steady state
if ! curl -sf -o "$out.cpu.prof" "http://$addr/debug/pprof/profile?seconds=$seconds"; then
  wait "$bench" || true
  echo "profile-run: the run ended before $seconds s of profile; give more events" >&2
  exit 1
fi
curl -sf -o "$out.allocs.prof" "http://$addr/debug/pprof/allocs" ||
  echo "profile-run: the run ended before the allocs profile was taken" >&2
wait "$bench"
grep -A1 '^run ' "$out.bench.log" | tail -1
rm -rf "$(dirname "$bin")"
