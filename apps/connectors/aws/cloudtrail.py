"""An AWS account's CloudTrail trails: is credential use recorded? (an account-level fact).

Read with the IAM collection of the account (its ``cloudtrail`` fact): ``DescribeTrails``
with shadow trails in the session's region lists every trail that logs there, multi-region
trails of other home regions included; for each multi-region trail ``GetTrailStatus`` (is it
logging) and ``GetEventSelectors`` (does it record management events, read and write) are
asked in the trail's home region. No log contents are read.

The fact: ``{"status": "read", "region": ..., "trails": [...]}``, each trail
``{"arn", "name", "home_region", "multi_region", "organization", "log_file_validation",
"logging", "management_events": all|write_only|read_only|none|None, "problems": [...]}``,
``None`` where AWS did not say (a trail's status could not be read: recorded as an error and
left unknown, never assumed). When the trails themselves cannot be listed (AccessDenied,
malformed answer) the IAM collection records the error and the fact is
``{"status": "unknown", "error": ...}``: the rule is then not assessed, never passed.
"""

from __future__ import annotations

from typing import Any

from apps.connectors.aws.allowlist import OPERATION_REFUSED
from apps.connectors.aws.client import translate_error
from apps.connectors.base import CollectionResult, ConnectorError

MAX_TRAILS = 200  # AWS allows five per region; more is not an answer to trust
# Event sources whose management events say who used or changed a credential: an advanced
# selector that leaves them out does not log credential use.
CREDENTIAL_EVENT_SOURCES = ("secretsmanager.amazonaws.com", "ssm.amazonaws.com", "iam.amazonaws.com", "sts.amazonaws.com")


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def management_coverage(selectors: dict[str, Any]) -> str | None:
    """``all`` | ``write_only`` | ``read_only`` | ``none`` from a GetEventSelectors answer
    (basic or advanced selectors); ``None`` when the answer holds neither."""
    basic = selectors.get("EventSelectors")
    advanced = selectors.get("AdvancedEventSelectors")
    found: set[str] = set()
    if isinstance(basic, list) and basic:
        for selector in basic:
            if not isinstance(selector, dict) or selector.get("IncludeManagementEvents", True) is not True:
                continue
            kind = str(selector.get("ReadWriteType") or "All")
            found.add({"All": "all", "WriteOnly": "write_only", "ReadOnly": "read_only"}.get(kind, "none"))
            if any(
                isinstance(source, str) and source in CREDENTIAL_EVENT_SOURCES
                for source in selector.get("ExcludeManagementEventSources") or []
            ):
                found.discard("all")
                found.add("write_only")  # partial: credential events excluded
    elif isinstance(advanced, list) and advanced:
        for selector in advanced:
            fields = selector.get("FieldSelectors") if isinstance(selector, dict) else None
            if not isinstance(fields, list):
                continue
            by_field = {str(f.get("Field")): f for f in fields if isinstance(f, dict)}
            category = by_field.get("eventCategory") or {}
            if "Management" not in (category.get("Equals") or []):
                continue
            read_only = (by_field.get("readOnly") or {}).get("Equals") or []
            source = by_field.get("eventSource") or {}
            narrowed = bool(source.get("Equals")) or any(
                s in CREDENTIAL_EVENT_SOURCES for s in (source.get("NotEquals") or []) if isinstance(s, str)
            )
            if read_only == ["true"]:
                found.add("read_only")
            elif read_only == ["false"]:
                found.add("write_only")
            elif narrowed:
                found.add("write_only")
            else:
                found.add("all")
    elif isinstance(basic, list) or isinstance(advanced, list):
        return "none"
    else:
        return None
    if "all" in found or {"read_only", "write_only"} <= found:
        return "all"
    for kind in ("write_only", "read_only"):
        if kind in found:
            return kind
    return "none"


def _trail_problems(trail: dict[str, Any]) -> list[str]:
    problems = []
    if trail["multi_region"] is not True:
        problems.append("not multi-region")
    if trail["logging"] is False:
        problems.append("logging is off")
    if trail["log_file_validation"] is False:
        problems.append("log-file validation is off")
    coverage = trail["management_events"]
    if coverage in ("none", "write_only", "read_only"):
        problems.append(f"management events: {coverage.replace('_', ' ')}")
    return problems


def read_trails(aws: Any, result: CollectionResult) -> dict[str, Any]:
    """The ``cloudtrail`` fact of the account behind ``aws`` (an AwsSession)."""
    home = aws.client("cloudtrail")
    try:
        answer = home.describe_trails(includeShadowTrails=True)
        listed = answer.get("trailList")
        if not isinstance(listed, list):
            raise ConnectorError("DescribeTrails answered without a trailList", code="malformed_response")
        if len(listed) > MAX_TRAILS:
            raise ConnectorError(f"DescribeTrails listed {len(listed)} trails (more than {MAX_TRAILS})", code="malformed_response")
    except Exception as exc:  # noqa: BLE001 - recorded; the fact says unknown
        error = translate_error(exc, context="cloudtrail DescribeTrails")
        if error.retryable or error.code == OPERATION_REFUSED:
            raise error from exc
        result.add_error(error.code, str(error), "cloudtrail")
        return {"status": "unknown", "error_code": error.code, "error": str(error)[:300]}

    trails: list[dict[str, Any]] = []
    seen: set[str] = set()
    clients: dict[str, Any] = {}
    for item in listed:
        if not isinstance(item, dict) or not isinstance(item.get("TrailARN"), str):
            result.add_error("malformed_response", "a DescribeTrails entry without a TrailARN", "cloudtrail")
            continue
        arn = item["TrailARN"][:400]
        if arn in seen:
            continue
        seen.add(arn)
        region = str(item.get("HomeRegion") or aws.region)[:40]
        trail: dict[str, Any] = {
            "arn": arn,
            "name": str(item.get("Name") or arn)[:200],
            "home_region": region,
            "multi_region": _flag(item.get("IsMultiRegionTrail")),
            "organization": _flag(item.get("IsOrganizationTrail")),
            "log_file_validation": _flag(item.get("LogFileValidationEnabled")),
            "logging": None,
            "management_events": None,
        }
        if trail["multi_region"] is True:  # only those can qualify; the others are listed as they are
            if region not in clients:
                clients[region] = aws.client("cloudtrail", region=region)
            client = clients[region]
            trail["logging"] = _detail(
                result, arn, "GetTrailStatus", lambda c=client, a=arn: _flag(c.get_trail_status(Name=a).get("IsLogging"))
            )
            trail["management_events"] = _detail(
                result, arn, "GetEventSelectors", lambda c=client, a=arn: management_coverage(c.get_event_selectors(TrailName=a))
            )
        trail["problems"] = _trail_problems(trail)
        trails.append(trail)
    return {"status": "read", "region": aws.region, "trails": trails}


def _detail(result: CollectionResult, arn: str, operation: str, read: Any) -> Any:
    try:
        return read()
    except Exception as exc:  # noqa: BLE001
        error = translate_error(exc, context=f"cloudtrail {operation} {arn}")
        if error.retryable or error.code == OPERATION_REFUSED:
            raise error from exc
        result.add_error(error.code, str(error), arn)
        return None
