#!/usr/bin/env bash
# Runs every check and every test on real infrastructure, then prints one line: "N passed, N failed".
# Starts what it needs itself: the Kafka broker (deploy/local/kafka.sh) and Postgres (local
# server, DATABASE_URL, or an embedded one). Extra arguments go to Jest (e.g. a path filter).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state="${WARDEN_HOME:-$root/.warden}"
mkdir -p "$state"
passed=0
failed=0
failures=()

check() {
  local name=$1
  shift
  if "$@" >"$state/check-$name.log" 2>&1; then
    passed=$((passed + 1))
    echo "check $name: passed"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "check $name: FAILED (see below)"
    tail -n 40 "$state/check-$name.log"
  fi
}

echo "== build"
npm run --silent build || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

echo "== static checks"
check typecheck npx tsc -p tsconfig.base.json --noEmit
check lint npm run --silent lint
check format npm run --silent format:check
check proto-lint npx buf lint proto
check proto-generated bash -c 'cd proto && npx buf generate && cd .. && git diff --exit-code --stat -- libs/contracts/src/gen && test -z "$(git status --porcelain -- libs/contracts/src/gen)"'
if git rev-parse --verify -q main >/dev/null && git cat-file -e main:proto/buf.yaml 2>/dev/null; then
  check proto-breaking npx buf breaking proto --against ".git#branch=main,subdir=proto"
fi

echo "== deployment tools"
# Helm, warden-deploy-check and Strimzi's CRDs for the chart and observability tests, built and
# fetched once into $state/tools (deploy/tools/setup.sh; no network once cached).
export WARDEN_DEPLOY_TOOLS="$state/tools"
check deploy-tools bash deploy/tools/setup.sh "$WARDEN_DEPLOY_TOOLS"

echo "== infrastructure"
# The tests get a broker of their own (its data is wiped after a run that started it), so their
# topics never pile up in the broker `npm start` uses. A broker already answering on the port is shared.
export WARDEN_HOME="$state/test"
started_kafka=0
if ! deploy/local/kafka.sh status >/dev/null 2>&1; then
  deploy/local/kafka.sh start || { echo "kafka failed to start"; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
  started_kafka=1
fi
export KAFKA_BROKERS="127.0.0.1:${KAFKA_PORT:-19092}"
DATABASE_URL=$(node dist/deploy/local/postgres.js ensure warden_test | tail -n 1) || { echo "postgres unavailable"; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
export DATABASE_URL

echo "== tests"
results="$state/jest-results.json"
rm -f "$results"
npx jest -c test/jest.config.ts --ci --json --outputFile="$results" "$@"
jest_rc=$?

if [ "$started_kafka" = 1 ]; then deploy/local/kafka.sh reset >/dev/null 2>&1 || true; fi

if [ -f "$results" ]; then
  read -r jp jf js < <(node -e '
    const r = require(process.argv[1]);
    // A suite that failed to run (e.g. did not compile) counts as one failure.
    const broken = r.testResults.filter((s) => s.status === "failed" && s.assertionResults.length === 0).length;
    console.log(r.numPassedTests, r.numFailedTests + broken, r.numPendingTests + r.numTodoTests);
  ' "$results")
else
  jp=0; jf=1; js=0
fi
passed=$((passed + jp))
failed=$((failed + jf))
if [ "${#failures[@]}" -gt 0 ]; then echo "failed checks: ${failures[*]}"; fi
if [ "$js" -gt 0 ]; then echo "skipped: $js"; fi
echo "$passed passed, $failed failed"
if [ "$failed" -gt 0 ] || [ "$jest_rc" -ne 0 ]; then exit 1; fi
exit 0
