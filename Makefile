# Two commands matter: `make demo` and `make test`. Both set everything up first.
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# `make up NODES=3 WORKERS=2`: a 3-node Restate cluster and 2 service processes;
# `make up LAMBDA=1`: the service behind the local Lambda endpoint, registered by ARN.
NODES ?= 1
WORKERS ?= 1
LAMBDA ?=

# The machines run Node.js 20: keep jsii's end-of-life banner out of test and synth output.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup test lint demo bench bench-scale synth up clean chromium

setup: $(VENV)/.installed node_modules/.installed chromium

# Re-install only when the dependency files change, so `make setup` is quick when nothing did.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[local,dev,infra]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The listener page's browser test drives Debian's Chromium (playwright-core, from npm ci,
# never downloads a browser): installed here when missing and the machine allows it (root
# with apt-get); elsewhere that test is skipped and says why.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the listener page's browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

demo: setup
	$(PY) -m infra.local demo

up: setup
	$(PY) -m infra.local up --nodes $(NODES) --service-workers $(WORKERS) $(if $(LAMBDA),--lambda)

bench: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(PY) -m benchmarks

# Minutes long, not part of `make test`: 10,000 parked promises and a 2,000 burst.
bench-scale: setup
	$(PY) -m benchmarks.scale $(SCALE_ARGS)

synth: setup
	cd infra/aws && CDK_DISABLE_CLI_TELEMETRY=true PATH="$(CURDIR)/$(BIN):$$PATH" \
		$(CURDIR)/node_modules/.bin/cdk synth --no-notices --quiet \
		-c restateIngressUrl=https://restate.example.com:8080 \
		-c restateApiKeySecretName=restate/ingress-api-key \
		-c lambdaBundling=skip

clean:
	rm -rf $(VENV) node_modules .restate infra/aws/cdk.out .mypy_cache .ruff_cache .pytest_cache
