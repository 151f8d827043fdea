# Jianguan — every target creates the virtualenv itself when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo demo-build test test-sqlite test-postgres bench lint clean

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c requirements/constraints.txt -e '.[dev]'
	touch $(STAMP)

## make demo: build the demo county on the embedded SQLite database, run the monthly cycle, serve on :8000
demo: $(STAMP)
	$(BIN)/jianguan demo

## make test: the whole suite on SQLite, then on PostgreSQL when JIANGUAN_TEST_DATABASE_URL is set
test: $(STAMP)
	$(BIN)/jianguan makemigrations --check --dry-run
	JIANGUAN_ENV=production SECRET_KEY=check-deploy-$$(date +%s)-0123456789abcdefghijklmnopqrstuvwxyz ALLOWED_HOSTS=jianguan.example.gov.cn \
		$(BIN)/jianguan check --deploy --fail-level WARNING
	$(BIN)/lint-imports
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$JIANGUAN_TEST_DATABASE_URL" ]; then $(MAKE) --no-print-directory test-postgres; \
	 else echo "JIANGUAN_TEST_DATABASE_URL is not set: PostgreSQL run skipped"; fi

test-sqlite: $(STAMP)
	DATABASE_URL= $(BIN)/pytest -p no:cacheprovider

test-postgres: $(STAMP)
	DATABASE_URL=$$JIANGUAN_TEST_DATABASE_URL $(BIN)/pytest -p no:cacheprovider -m "not e2e"

## make bench: benchmarks; figures go to bench/RESULTS.md by hand, with machine and date
bench: $(STAMP)
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) var/static
