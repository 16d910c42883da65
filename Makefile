# LensFinder: `make run` starts the whole application, `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# The PostgreSQL the suite also runs on when it answers (trust auth on this machine).
TEST_PG_URL ?= postgres://postgres@127.0.0.1:5432/test
LENSCAT := lenscat==1.1.3

.PHONY: run test test-sqlite test-postgres lint format browser clean networks

$(VENV)/.runtime: requirements.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# The lenscat prior-lens catalogue (MIT): only its bundled CSV is read, so
	# its heavy sky-map dependencies are not installed.
	$(PY) -m pip install --quiet --no-deps $(LENSCAT)
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_demo
	$(PY) manage.py runstack

# The whole suite: on SQLite, then on PostgreSQL when it answers.
test: $(VENV)/.dev browser
	$(MAKE) --no-print-directory test-sqlite
	@if $(PY) scripts/pg_answers.py "$(TEST_PG_URL)"; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL does not answer at $(TEST_PG_URL): the PostgreSQL pass is skipped."; \
	fi

test-sqlite: $(VENV)/.dev
	env -u DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS)

# Only the tests that touch the database run again on PostgreSQL.
test-postgres: $(VENV)/.dev
	DATABASE_URL=$(TEST_PG_URL) LENSFINDER_DB_TESTS_ONLY=1 $(PY) -m pytest $(PYTEST_ARGS)

# Browser tests need Debian's chromium; install it when missing (root only).
browser:
	@bash scripts/ensure-chromium

lint: $(VENV)/.dev
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Rebuild the shipped networks in classifier/shipped/ (~3 hours on 2 CPU cores; see the README).
# Needs the dev set: the cross-check test sets are rendered with lenstronomy.
# The two builds run side by side, one thread each: on 2 cores that beats one
# two-threaded build after the other (small convolutions scale poorly).
networks: $(VENV)/.dev
	OMP_NUM_THREADS=1 PY=$(PY) scripts/build-default-networks kids kids-gri & kids=$$!; \
	OMP_NUM_THREADS=1 PY=$(PY) scripts/build-default-networks lsst; lsst=$$?; \
	wait $$kids && exit $$lsst

clean:
	rm -rf $(VENV) var/test-* .pytest_cache .ruff_cache
