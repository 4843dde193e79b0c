#!/usr/bin/env bash
# The whole test suite, as the README gives it and .ci/run runs it:
#   0. Debian's chromium and kcat, if missing (the status page is tested in a real
#      browser; one test publishes through librdkafka);
#      then a check that no build output is tracked;
#   1. every package's tests (unit, integration against kfake and the real local
#      ClickHouse, end-to-end, chaos), which fetch and start what they need, in a
#      random order (-shuffle=on: no test may depend on another having run; a
#      failing package prints "-test.shuffle N", and -shuffle=N replays that order);
#   2. the packages with the most concurrency again under the race detector, also
#      shuffled;
#   3. every benchmark once (-benchtime 1x), so they keep working;
#   4. each fuzz target for a bounded number of executions (SLUICE_FUZZTIME, default
#      300000x, about 20 s on two cores). A count, not a duration: Go 1.26's fuzz
#      coordinator can report "context deadline exceeded" at the end of a timed
#      run without any failing input (golang/go#75804, fixed in Go 1.27). A crasher
#      is written to <package>/testdata/fuzz/<target>/: commit it as a seed.
set -euo pipefail
cd "$(dirname "$0")/.."

# The status-page test drives a real headless browser and one test publishes
# through kcat (librdkafka, a non-Go client); under CI=true a missing one fails its
# test, so install Debian's packages when they are not there (idempotent).
missing=
command -v chromium >/dev/null || missing="$missing chromium"
command -v kcat >/dev/null || missing="$missing kcat"
if [ -n "$missing" ]; then
	if [ "$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi
	echo "installing Debian's$missing for the tests"
	$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi

# Build outputs must never be committed again: fail on any tracked executable or
# object file (ELF or shared library), whatever its name.
bins=$(git ls-files -z | xargs -0 -r file --mime-type | grep -E ': *application/x-(executable|pie-executable|sharedlib|object)$' | cut -d: -f1 || true)
if [ -n "$bins" ]; then
	echo "tracked build outputs (remove them; .gitignore should cover them):" >&2
	echo "$bins" >&2
	exit 1
fi

go test -count=1 -shuffle=on -timeout 45m ./...

go test -race -count=1 -shuffle=on -timeout 15m ./consumers/... ./pipeline/... ./schemas/... ./producers/... ./internal/config/... ./internal/admin/... ./internal/metrics/... ./internal/dev/testsupport/...

# Every benchmark once, so they keep compiling and running (speed is measured with
# `task bench`, never asserted in tests).
# Their figures are dropped; a failure prints its output.
bench_out=$(mktemp)
if ! go test -run '^$' -bench . -benchtime 1x ./... >"$bench_out" 2>&1; then
	grep -v -E '^(Benchmark|goos|goarch|pkg|cpu|PASS|ok )' "$bench_out" >&2
	rm -f "$bench_out"
	exit 1
fi
rm -f "$bench_out"

for target in schemas:FuzzDecodePayment schemas:FuzzDecodeShipment pipeline:FuzzDedup; do
	pkg=${target%%:*} name=${target#*:}
	echo "fuzzing $name for ${SLUICE_FUZZTIME:-300000x}"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "${SLUICE_FUZZTIME:-300000x}" "./$pkg"
done
