# keytrail: the two commands the README documents.
.PHONY: demo test lock

## Set up, seed the demo organisation, and serve http://127.0.0.1:8000 (SQLite, Celery eager).
demo:
	bash .ci/setup demo
	python3 manage.py demo

## Install what the tests need, start PostgreSQL and Redis, check the import contracts, lint,
## format and types, then run the whole suite (in parallel: pyproject.toml's pytest addopts).
test:
	bash .ci/setup test
	lint-imports
	ruff check .
	ruff format --check .
	mypy
	python3 -m pytest

## Re-pin every dependency (with hashes) after changing pyproject.toml; keeps existing pins where they still fit.
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o config/requirements.lock
