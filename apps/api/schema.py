"""Schema post-processing: every operation documents the refusals it can answer with, so a
client (and the schema fuzzing in CI) knows 401/403/404 and the input errors are part of the
contract, not surprises."""

ERROR = {
    "type": "object",
    "description": "`detail` says why; a refused input names its fields instead (`{field: [messages]}`). Nothing was changed.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
REASONS = {
    "400": "The input was refused (fields or the service's rule); nothing was changed.",
    "401": "No token, or the token is invalid, expired or revoked.",
    "403": "You may see this but not do this (or your token is read-only).",
    "404": "Not found, or not visible to you.",
    "409": "The object's state does not allow this; nothing was changed.",
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    ref = {"$ref": "#/components/schemas/Error"}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = ["400", "401", "403", "404"]
            if method in ("post", "patch", "put", "delete"):
                codes.append("409")
            for code in codes:
                operation["responses"].setdefault(code, {"description": REASONS[code], "content": {"application/json": {"schema": ref}}})
    return result
