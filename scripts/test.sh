#!/usr/bin/env bash
# The test command (make test). On a fresh Debian machine it installs what the tests need
# (Python packages into .venv; Mosquitto, Redis, PostgreSQL and Chromium from Debian), starts
# PostgreSQL and Redis on free loopback ports, and runs:
#   1. the whole suite on SQLite with the in-memory channel layer (tests start their own
#      Mosquitto and Redis when they need them),
#   2. the database and live-layer tests (marker "backend") on PostgreSQL with Redis,
#   3. the browser tests in headless Chromium, in a pytest process of their own,
#   4. ruff check and ruff format --check.
# It stops what it started and exits non-zero if any step failed or ran no test.
# Extra arguments go to every pytest run (e.g. make test ARGS="-k live").
set -uo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

scripts/venv.sh requirements-dev.txt || exit 1
scripts/system-packages.sh || exit 1

export ENV_FILE=/dev/null  # a developer's .env must not reach the tests
work=$(mktemp -d /tmp/flowsuite-test.XXXXXX)
chmod 755 "$work"
source scripts/services.sh
trap 'stop_services; rm -rf "$work"' EXIT

start_postgres "$work/pg" || { echo "!! PostgreSQL did not start"; exit 1; }
start_redis "$work/redis" || { echo "!! Redis did not start"; exit 1; }

reports=var/test-reports
rm -rf "$reports" && mkdir -p "$reports"
failed=()

run_pytest() {  # name, then pytest arguments
  local name=$1; shift
  echo
  echo "== $name"
  .venv/bin/pytest -p no:cacheprovider --junitxml="$reports/$name.xml" "$@"
  local code=$?
  if [[ $code == 5 ]]; then echo "!! $name ran no test"; fi
  [[ $code == 0 ]] || failed+=("$name")
}

# Each run in a subshell of its own environment; its exit code says whether it failed.
(
  failed=()
  unset DATABASE_URL REDIS_URL MQTT_URL
  run_pytest sqlite -m "not browser" ${ARGS:-}
  exit ${#failed[@]}
) || failed+=("sqlite")

(
  failed=()
  export DATABASE_URL="postgres://flowsuite:flowsuite@127.0.0.1:$PG_PORT/flowsuite"
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  unset MQTT_URL
  run_pytest postgres-redis -m "backend and not browser" ${ARGS:-}
  exit ${#failed[@]}
) || failed+=("postgres-redis")

(
  failed=()
  unset DATABASE_URL REDIS_URL MQTT_URL
  export DJANGO_ALLOW_ASYNC_UNSAFE=true
  run_pytest browser -m browser ${ARGS:-}
  exit ${#failed[@]}
) || failed+=("browser")

echo
echo "== ruff"
if .venv/bin/ruff check . && .venv/bin/ruff format --check . >/dev/null; then
  echo "ruff: clean"
else
  .venv/bin/ruff format --check . || true
  failed+=("ruff")
fi

echo
.venv/bin/python scripts/junit_totals.py "$reports"/*.xml
echo "test command took $((SECONDS - started)) s"
if (( ${#failed[@]} )); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "OK"
