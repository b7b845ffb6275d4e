# FlowSuite: the two commands are `make run` and `make test` (see README).
.PHONY: run test lint format messages screenshots clean

run:  ## the site on http://127.0.0.1:8000 with SQLite, the in-memory layer and demo data
	scripts/run.sh

test:  ## the whole suite on real services (installs and starts them), then ruff
	ARGS="$(ARGS)" scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

messages:  ## refresh the Spanish catalogues after changing user-facing strings
	.venv/bin/python manage.py makemessages -l es --ignore ".venv/*" --ignore "var/*"
	.venv/bin/python manage.py makemessages -d djangojs -l es --ignore ".venv/*" --ignore "var/*" --ignore "static/vendor/*"
	.venv/bin/python manage.py compilemessages --ignore ".venv/*"

clean:
	rm -rf .venv var
