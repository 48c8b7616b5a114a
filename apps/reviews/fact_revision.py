"""The access-review tables the evaluation reads into credential facts (apps.reviews.facts) change
their credentials' fact revisions (apps/inventory/fact_revision.py): database triggers installed by
migration ``reviews.0005_fact_revision_triggers``."""

from __future__ import annotations

from apps.inventory import fact_revision as rev

_CAMPAIGN_CREDENTIALS = (
    "SELECT credential_id FROM reviews_reviewitem WHERE campaign_id = {id} AND credential_id IS NOT NULL "
    "UNION SELECT r.credential_id FROM reviews_remediation r JOIN reviews_reviewitem i ON i.id = r.item_id WHERE i.campaign_id = {id}"
)
_CHILDREN = (("reviews_reviewitem", "reviews_reviewitem_rev"), ("reviews_remediation", "reviews_remediation_rev"))


def pg_install() -> list[str]:
    sql: list[str] = []
    for table, prefix in _CHILDREN:
        sql += rev.pg_touch_triggers(table, rev.CREDENTIAL_TABLE, "credential_id", prefix=prefix)
    # A campaign's state (signed off) and name are in its decisions' facts.
    changed = "SELECT n.id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.state IS DISTINCT FROM o.state OR n.name IS DISTINCT FROM o.name"
    sql += rev.pg_after_update_statement(
        "reviews_campaign_rev_upd",
        "reviews_campaign",
        f"""
  UPDATE "{rev.CREDENTIAL_TABLE}" SET {rev.COLUMN} = nextval('{rev.SEQUENCE}') WHERE id IN (
    SELECT credential_id FROM reviews_reviewitem WHERE campaign_id IN ({changed})
    UNION SELECT r.credential_id FROM reviews_remediation r JOIN reviews_reviewitem i ON i.id = r.item_id
    WHERE i.campaign_id IN ({changed}));""",
    )
    return sql


def pg_uninstall() -> list[str]:
    sql = ['DROP TRIGGER IF EXISTS reviews_campaign_rev_upd ON "reviews_campaign"', "DROP FUNCTION IF EXISTS reviews_campaign_rev_upd()"]
    for table, prefix in _CHILDREN:
        sql += rev.pg_drop_touch_triggers(table, prefix=prefix)
    return sql


def sqlite_install() -> list[str]:
    sql: list[str] = []
    for table, prefix in _CHILDREN:
        sql += rev.sqlite_touch_triggers(table, "credential_id", prefix=prefix)
    sql.append(
        "CREATE TRIGGER reviews_campaign_rev_upd AFTER UPDATE OF state, name ON reviews_campaign "
        "WHEN NEW.state IS NOT OLD.state OR NEW.name IS NOT OLD.name BEGIN "
        f"{rev.sqlite_touch_credentials(_CAMPAIGN_CREDENTIALS.format(id='NEW.id'))} END"
    )
    return sql


def sqlite_uninstall() -> list[str]:
    names = ["reviews_campaign_rev_upd"] + [f"{prefix}_{e}" for _, prefix in _CHILDREN for e in ("ins", "upd", "del")]
    return [f"DROP TRIGGER IF EXISTS {n}" for n in names]


def install(apps, schema_editor) -> None:
    rev.run(schema_editor, pg_install() if schema_editor.connection.vendor == "postgresql" else sqlite_install())


def uninstall(apps, schema_editor) -> None:
    rev.run(schema_editor, pg_uninstall() if schema_editor.connection.vendor == "postgresql" else sqlite_uninstall())
