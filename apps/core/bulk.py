"""Writing many rows fast: PostgreSQL's COPY where available, bulk_create elsewhere (SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence

import orjson
from django.db import connection, models


def json_text(value) -> str:
    """A JSON field's value as :func:`bulk_insert` writes it."""
    try:
        return orjson.dumps(value, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):  # e.g. a lone surrogate orjson refuses
        return json.dumps(value, ensure_ascii=False, default=str)


def bulk_insert(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence], *, batch_size: int = 5000) -> int:
    """Insert ``rows`` (values in ``columns`` order; FK columns by their ``*_id`` attname) and
    return how many. JSON fields take Python objects. Runs in the caller's transaction."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    json_cols = {i for i, c in enumerate(columns) if isinstance(fields[c], models.JSONField)}
    count = 0
    if connection.vendor == "postgresql":
        table = model._meta.db_table
        cols = ", ".join(f'"{fields[c].column}"' for c in columns)
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                for row in rows:
                    if json_cols:
                        row = list(row)
                        for i in json_cols:
                            row[i] = json_text(row[i])
                    copy.write_row(row)
                    count += 1
        return count
    batch = []
    for row in rows:
        batch.append(model(**dict(zip(columns, row, strict=True))))
        if len(batch) >= batch_size:
            model._default_manager.bulk_create(batch)
            count += len(batch)
            batch = []
    if batch:
        model._default_manager.bulk_create(batch)
        count += len(batch)
    return count


def bulk_insert_objects(model: type[models.Model], objs: Sequence[models.Model]) -> int:
    """Insert unsaved instances of ``model`` with :func:`bulk_insert` (every concrete column but
    the primary key, so field defaults set at construction are kept). Primary keys are not
    set back on ``objs``: read them by a natural key where they are needed."""
    if not objs:
        return 0
    columns = [f.attname for f in model._meta.concrete_fields if not f.primary_key]
    return bulk_insert(model, columns, ([getattr(obj, c) for c in columns] for obj in objs))


def copy_into(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Load plain ``rows`` into a table that has no model (a temporary table): COPY on
    PostgreSQL, executemany elsewhere (SQLite). Runs in the caller's transaction."""
    cols = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            count = 0
            with cursor.cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        rows = list(rows)
        if rows:
            cursor.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join(["%s"] * len(columns))})', rows)
        return len(rows)


# COPY's text format: the characters psycopg's own ``write_row`` escapes in a text value, and how.
_COPY_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\b", "\\b"), ("\v", "\\v"), ("\f", "\\f"))


def copy_needs_escape(text: str) -> bool:
    """Does ``text`` hold a character COPY's text format escapes? (Callers check several values
    joined at once: most hold none.)"""
    return "\\" in text or "\t" in text or "\n" in text or "\r" in text or "\b" in text or "\v" in text or "\f" in text


def copy_escape(text: str) -> str:
    """``text`` as a value of a COPY text line, escaped as psycopg's ``write_row`` escapes it."""
    for char, escaped in _COPY_ESCAPES:
        if char in text:
            text = text.replace(char, escaped)
    return text


def copy_lines(model: type[models.Model], columns: Sequence[str], lines: Iterable[str], *, batch: int = 2000) -> int:
    """PostgreSQL only: COPY ``lines`` already in COPY's text format (values in ``columns`` order,
    tab-separated, ``\\N`` for NULL, escaped with :func:`copy_escape`, each ending in a newline)
    and return how many. Formatting rows directly is several times cheaper than ``write_row``'s
    per-value adaptation; a caller formats each value as psycopg's text dumpers do (``str()``)."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    cols = ", ".join(f'"{fields[c].column}"' for c in columns)
    count = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f'COPY "{model._meta.db_table}" ({cols}) FROM STDIN') as copy:
            for chunk in _batches(lines, batch):
                copy.write("".join(chunk))
                count += len(chunk)
    return count


def _batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
