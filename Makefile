# keytrail: the two commands the README documents.
.PHONY: demo test lock

## Set up, seed the demo organisation, and serve http://127.0.0.1:8000 (SQLite, Celery eager).
demo:
	bash .ci/setup demo
	python3 manage.py demo

## Install what the tests need, start PostgreSQL and Redis, run the whole suite.
test:
	bash .ci/setup test
	python3 -m pytest

## Re-pin every dependency (with hashes) after changing pyproject.toml; keeps existing pins where they still fit.
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o config/requirements.lock
