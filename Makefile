# Two commands on a fresh machine:
#   make run    set up and serve the app on http://127.0.0.1:5000 (SQLite, demo data)
#   make test   set up and run ruff, mypy and the whole test suite (SQLite and PostgreSQL, browser)

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py

.PHONY: run test lint typecheck pytest-sqlite pytest-postgresql translations extract-messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.runtime-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-deps

translations: $(VENV)/.runtime-deps
	$(BIN)/pybabel compile -d app/translations --statistics 2>&1 | tail -n 1

run: $(VENV)/.runtime-deps translations
	APP_ENV=development $(BIN)/flask db upgrade
	APP_ENV=development $(BIN)/flask seed-demo --if-empty
	APP_ENV=development $(BIN)/flask run --host 127.0.0.1 --port 5000

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-deps
	$(BIN)/mypy app

pytest-sqlite: $(VENV)/.dev-deps translations
	TEST_DB=sqlite $(BIN)/pytest

pytest-postgresql: $(VENV)/.dev-deps translations
	TEST_DB=postgresql $(BIN)/pytest

test: lint typecheck pytest-sqlite pytest-postgresql

extract-messages: $(VENV)/.dev-deps
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k ngettext:1,2 --no-location --sort-output \
		--project victim-referral --copyright-holder "The victim-referral contributors" \
		-o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
