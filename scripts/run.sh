#!/usr/bin/env bash
# The run command (make run): the site with its embedded defaults on http://127.0.0.1:8000:
# SQLite under var/, the in-memory channel layer, demo users and simulated energy meters reporting live.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh requirements.txt
export DEBUG=${DEBUG:-true}
# The demo meters (seed_demo's sim-*) report every 2 s while the site serves.
export DEMO_FEED_INTERVAL=${DEMO_FEED_INTERVAL:-2}
PORT=${PORT:-8000}
.venv/bin/python manage.py migrate --no-input -v 0
echo "== demo users (log in with any of them)"
.venv/bin/python manage.py seed_demo
echo "== FlowSuite on http://127.0.0.1:$PORT/   (API docs: /api/docs/, admin: /admin/)"
exec .venv/bin/python manage.py runserver "127.0.0.1:$PORT"
