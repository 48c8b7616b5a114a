"""The REST API's endpoints, one module per topic (sources and runs, inventory, posture,
controls, exceptions, reviews, evidence), the token pages (``tokens``) and the JSON 404 for
unknown paths (``fallback``). Each endpoint is an interface like a UI view: check the same
permission the UI checks (``apps.audit.access``: 404 when the object is hidden, 403 when it is
visible but the action is not allowed, both recorded), read through the same selectors, change
through the same service — never a second path around the rules."""
