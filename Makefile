# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask
export FLASK_APP := wsgi:app

.PHONY: run test install i18n migrate demo bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

i18n: install
	@for dir in benefits/translations benefits/*/translations; do \
	  if [ -d "$$dir" ]; then $(VENV)/bin/pybabel -q compile -f -d "$$dir" || exit 1; fi; done

migrate: i18n
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo load

run: demo
	$(FLASK) run --host 127.0.0.1 --port 5000

test: i18n
	$(PY) -m pytest $(PYTEST_ARGS)

bench: i18n
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance test-artifacts
