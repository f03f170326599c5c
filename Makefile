# The two README commands. Each one sets up .venv on first use (torch and
# torchvision pinned by constraints-ci.txt), then runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: bench test lint

$(VENV)/.installed: pyproject.toml constraints-ci.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints-ci.txt -e '.[test,plot,dask,bench]'
	touch $@

# Main job: IEG against baselines on scikit-learn's digits (uniform noise 40% and 80%).
bench: $(VENV)/.installed
	$(BIN)/sk-ieg bench --out bench-out

# The architecture contracts (pyproject.toml, [tool.importlinter]), then the test
# suite (CI runs exactly this).
test: $(VENV)/.installed
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed
	$(BIN)/python -m pip install -q ruff && $(BIN)/ruff check .
