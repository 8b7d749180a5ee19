# Everything runs from the project's own files: a fresh clone needs only python3.11+, node/npm, java and mvn.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STATE := .state

export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_EC2_METADATA_DISABLED := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help install dev demo test test-on-lambda-python unit chaos lint bench clean distclean synth deploy api-docs docs package package-docs

help:
	@echo "make install install what the rest needs: .venv/, node_modules/, Kafka's jars and the bundles' wheels in .state/"
	@echo "make demo    run every pattern's demo scenario (starts a local stack if none is running; NODES=3 starts a cluster)"
	@echo "make test    run the test suite (starts its own stacks on random ports)"
	@echo "make unit    the tests that start no stack and synthesize nothing, in seconds (make test runs them too)"
	@echo "make chaos   the fault tests, slow ones included (kills, restarts, bad input, duplicates), printing their figures"
	@echo "make dev     run the local stack in the foreground (the catalog on restate_lambda.local): Restate, Kafka, moto, local Lambda"
	@echo "make lint    ruff + mypy"
	@echo "make api-docs  write functions/API.md from the manifests the handlers publish (no stack needed)"
	@echo "make docs    rewrite the tables in docs/ from the code and the latest bench and chaos results"
	@echo "make bench   the Lambda path against a long-running HTTP/2 endpoint, side by side: ratios, invocations, cost, sizes (ARGS=--quick)"
	@echo "make package build the restate-lambda wheel (the constructs package) into dist/"
	@echo "make package-docs  the restate-lambda API reference, from its docstrings, into dist/docs/"
	@echo "make synth   synthesize the CDK app into cdk.out/ (offline, no AWS credentials needed)"
	@echo "make deploy  deploy every pattern (registered with Restate) and the front door to AWS Lambda (PATTERN=<name> for one)"
	@echo "make clean   remove the local state (.state/: stacks' data and logs) and build output; keeps the downloads"
	@echo "make distclean  make clean, and remove the downloads in .state/ too (Kafka's jars, the bundles' wheels)"

# Every function's requirements file (functions/<name>/requirements.txt besides the shared one) feeds the venv.
$(VENV)/.installed: requirements.txt requirements-dev.txt restate-lambda/pyproject.toml functions/requirements.txt $(wildcard functions/*/requirements.txt)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

LOCAL_PACKAGE := restate-lambda/src/restate_lambda/local
$(STATE)/kafka-jars/.installed: $(LOCAL_PACKAGE)/kafka/pom.xml $(LOCAL_PACKAGE)/kafka_broker.py | $(VENV)/.installed
	$(PY) -c "from pathlib import Path; from restate_lambda.local.kafka_broker import ensure_kafka_jars; ensure_kafka_jars(Path('$(STATE)/kafka-jars'))"
	touch $@

# Wheels of the Lambda bundles (this machine's and arm64/3.13), fetched now: the shipped-artifact
# tests then talk only to 127.0.0.1, and `make synth` needs no network.
$(STATE)/bundles/.installed: $(VENV)/.installed stacks/bundling.py functions/constraints.txt restate-lambda/src/restate_lambda/cdk/bundling.py $(wildcard functions/*/requirements.txt)
	$(PY) -m stacks.bundling
	touch $@

# Wheels of the example CDK app's requirements (not restate-lambda itself: the test builds that), so
# that its test installs them into a fresh venv without the network.
EXAMPLE_REQUIREMENTS := restate-lambda/examples/greeter/requirements.txt
$(STATE)/wheelhouse/.installed: $(EXAMPLE_REQUIREMENTS) | $(VENV)/.installed
	$(PY) -m pip download --quiet --dest $(STATE)/wheelhouse $$(grep -v -e '^#' -e '^restate-lambda' $(EXAMPLE_REQUIREMENTS))
	touch $@

# What synth and deploy need: no Java, no Kafka jars (those are the local stack's).
DEPLOY_TOOLS := $(VENV)/.installed node_modules/.installed $(STATE)/bundles/.installed

install: $(DEPLOY_TOOLS) $(STATE)/kafka-jars/.installed $(STATE)/wheelhouse/.installed

# NODES=3: a Restate cluster of three nodes instead of one server.
dev: install
	$(PY) -m local.stack $(if $(NODES),--nodes $(NODES))

demo: install
	$(PY) -m local.demo $(if $(NODES),--nodes $(NODES))

# Lambda runs the bundles on Python 3.13, the suite runs on this machine's Python: where a 3.13 exists
# (PATH or pyenv), the unit tests and the shipped-artifact tests run on it first, in a venv of its own.
LAMBDA_VENV := $(STATE)/venv-lambda-python
FIND_LAMBDA_PYTHON := $(PY) -c "from restate_lambda import LAMBDA_PYTHON_VERSION as v; from restate_lambda.cdk.bundling import find_interpreter; print(find_interpreter(v) or '')"

test: install
	@$(MAKE) --no-print-directory test-on-lambda-python
	$(PY) -m pytest

test-on-lambda-python: install
	@interpreter=$$($(FIND_LAMBDA_PYTHON) 2>/dev/null); \
	if [ -z "$$interpreter" ]; then echo "No Python $$($(PY) -c 'from restate_lambda import LAMBDA_PYTHON_VERSION as v; print(v)') here: the tests run on $$($(PY) -V) only."; exit 0; fi; \
	if [ $(VENV)/.installed -nt $(LAMBDA_VENV)/.installed ]; then \
		rm -rf $(LAMBDA_VENV) && $$interpreter -m venv $(LAMBDA_VENV) && \
		$(LAMBDA_VENV)/bin/python -m pip install --quiet --upgrade pip && \
		$(LAMBDA_VENV)/bin/python -m pip install --quiet -r requirements-dev.txt && touch $(LAMBDA_VENV)/.installed; \
	fi; \
	echo "On $$($(LAMBDA_VENV)/bin/python -V), Lambda's Python: the unit tests and the shipped-artifact tests"; \
	$(LAMBDA_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not stack and not synth or artifact"

# The markers come from the folder each test is in (tests/unit, stack, cdk, chaos: tests/conftest.py).
unit: $(VENV)/.installed
	$(PY) -m pytest -m "not stack and not synth"

# The fault tests only; CHAOS=1 adds the slow ones `make test` skips, and -s shows each test's figures,
# which a passing run also tables in docs/reliability.md.
chaos: install
	rm -f $(STATE)/chaos/figures.json
	CHAOS=1 FAULT_FIGURES=$(STATE)/chaos/figures.json $(PY) -m pytest -m fault -s
	mkdir -p docs/results && cp $(STATE)/chaos/figures.json docs/results/chaos.json
	$(PY) -m local.reference_docs

# The example is an app of its own (its app.py would clash with ours as module "app"): checked apart.
lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .
	cd restate-lambda/examples/greeter && ../../../$(PY) -m mypy --config-file ../../../pyproject.toml app.py greeter/service.py

# ARGS=--quick: fewer calls and events, shorter pattern waits (results in .state/bench/results.json either way).
bench: install
	$(PY) -m local.bench $(ARGS)

docs: $(VENV)/.installed
	$(PY) -m local.reference_docs

api-docs: $(VENV)/.installed
	$(PY) -m local.api_docs

# The constructs package as a wheel any CDK app installs: pip install dist/restate_lambda-*.whl
package: $(VENV)/.installed
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist ./restate-lambda
	rm -rf restate-lambda/build
	@ls dist/restate_lambda-*.whl

# jsii (under aws_cdk) starts node when imported, which pdoc suppresses unless allowed.
package-docs: $(VENV)/.installed
	PDOC_ALLOW_EXEC=1 $(PY) -m pdoc --docformat restructuredtext --output-directory dist/docs restate_lambda
	@echo "open dist/docs/index.html"

# The CDK CLI runs app.py with the venv's Python (cdk.json); CDK_ARGS passes more, e.g. CDK_ARGS="-c lambda:architecture=x86_64".
CDK := npx cdk --no-notices
PATTERN ?=

# Offline, with cdk.json's example environment id: the switch accepts it (with a warning); deploy never passes it.
synth: $(DEPLOY_TOOLS)
	$(CDK) synth --quiet -c app:allowExampleValues=true $(CDK_ARGS)

# One catalog entry's stack, e.g. PATTERN=durable_rpc (the shared stack comes along) or PATTERN=front_door, or all of them.
deploy: $(DEPLOY_TOOLS)
	@$(PY) -c "$$CHECK_AWS_CREDENTIALS"
	$(CDK) deploy $(if $(PATTERN),$(PATTERN),--all) $(CDK_ARGS)

# Asked before the CDK, whose own message about missing credentials names neither the fix nor the README.
define CHECK_AWS_CREDENTIALS
import sys
import boto3
from botocore.config import Config
quick = Config(connect_timeout=5, read_timeout=5, retries={"max_attempts": 1})
try:
    boto3.client("sts", config=quick).get_caller_identity()
except Exception as problem:
    sys.exit(
        f"make deploy needs AWS credentials the CDK CLI can use; checking them failed: {problem}\n"
        "Set them up as README.md says under 'Before you deploy': `aws configure` or AWS_PROFILE (or\n"
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), a region (AWS_REGION), and bootstrap the account\n"
        "and region for CDK once: npx cdk bootstrap aws://<account>/<region>"
    )
endef
export CHECK_AWS_CREDENTIALS

# The downloads stay (Kafka's jars, the bundles' wheels): fetching them again takes minutes. distclean removes them.
DOWNLOADS := kafka-jars bundles wheelhouse

clean:
	test ! -d $(STATE) || find $(STATE) -mindepth 1 -maxdepth 1 $(foreach name,$(DOWNLOADS),! -name $(name)) -exec rm -rf {} +
	rm -rf cdk.out dist .pytest_cache .mypy_cache .ruff_cache

distclean: clean
	rm -rf $(STATE)
