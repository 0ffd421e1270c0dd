# dcrm: one Makefile for set-up, checks, tests, the local chain and the benchmarks.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
DATA   ?= .dcrm/local
PROTOS := $(wildcard proto/dcrm/v1/*.proto)
PYTEST_ARGS ?=

.PHONY: install proto proto-check check lint typecheck layers test test-fast run bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[node,dev]"
	@touch $(STAMP)

# Regenerate the protobuf and gRPC modules with their type stubs, next to the .proto files.
proto: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH $(PY) -m grpc_tools.protoc -I proto --python_out=proto \
	  --mypy_out=proto --mypy_grpc_out=proto --grpc_python_out=proto $(PROTOS)

# Fails when the generated code is not what `make proto` would write now.
proto-check: $(STAMP)
	@PATH=$(abspath $(BIN)):$$PATH $(PY) tests/tools/check_generated.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy -p dcrm.runtime -p dcrm.client -p dcrm.node -p tests -p loadtest

layers: $(STAMP)
	PYTHONPATH=.typecheck $(BIN)/lint-imports

check: proto-check lint typecheck layers

test: check
	$(BIN)/pytest $(PYTEST_ARGS)

# Starts a local chain in the foreground; Ctrl-C stops it, a second `make run` resumes it.
run: $(STAMP)
	$(BIN)/dcrm devnet --data $(DATA) --validators 4

bench: $(STAMP)
	$(PY) -m tests.bench.run_all --out bench-results

# Load tests against a running chain, by default `make run`'s; reports go to loadtest/results/<timestamp>/.
# `make loadtest USERS=200 DURATION=5m TARGETS=validator1.example.com:50051,validator2.example.com:50051 ADMIN_KEY=ops/admin.key`;
# LOCUST_ARGS / CEILING_ARGS pass more options (TLS: --tls-ca FILE). See docs/loadtest.md.
USERS        ?= 50
SPAWN_RATE   ?= 10
DURATION     ?= 60s
TARGETS      ?= 127.0.0.1:50051,127.0.0.1:50052,127.0.0.1:50053,127.0.0.1:50054
ADMIN_KEY    ?= $(DATA)/admin.key
PROCESSES    ?= 1
LOCUST_ARGS  ?=
CEILING_ARGS ?=
RESULTS      := loadtest/results

.PHONY: loadtest loadtest-ceiling
loadtest: $(STAMP)
	@out=$(RESULTS)/$$(date +%Y%m%d-%H%M%S); mkdir -p $$out; \
	$(BIN)/locust -f loadtest/locustfile.py --headless --users $(USERS) --spawn-rate $(SPAWN_RATE) \
	  --run-time $(DURATION) --targets $(TARGETS) --admin-key $(ADMIN_KEY) \
	  $(if $(filter-out 1,$(PROCESSES)),--processes $(PROCESSES)) \
	  --csv $$out/locust --html $$out/report.html $(LOCUST_ARGS); \
	status=$$?; echo "reports: $$out/report.html and $$out/locust_*.csv"; exit $$status

loadtest-ceiling: $(STAMP)
	$(PY) -m loadtest.ceiling --targets $(TARGETS) --out $(RESULTS)/$$(date +%Y%m%d-%H%M%S)-ceiling $(CEILING_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache

# More consensus simulator seeds than `make test` runs (it runs 0..299): `make sim SEEDS=5000` runs seeds
# 300..5299; `make sim SEED=1234` reruns one seed, narrated.
SEEDS ?= 1000
.PHONY: sim
sim: $(STAMP)
	$(PY) -m tests.consensus.sim $(if $(SEED),--seed $(SEED) --verbose,--seeds $(SEEDS))
