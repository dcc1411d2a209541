"""The published OpenAPI schema is current, and every operation declares its security."""

from __future__ import annotations

import json

from doorward.server.api.openapi import DOCS_PATH, render


def test_docs_openapi_json_is_current() -> None:
    assert DOCS_PATH.read_text() == render(), "run `python -m doorward.server.api.openapi` and commit docs/openapi.json"


def test_every_operation_but_health_login_and_pairing_requires_a_bearer_token() -> None:
    spec = json.loads(DOCS_PATH.read_text())
    open_operations = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not operation.get("security"):
                open_operations.append((method, path))
    assert sorted(open_operations) == [("get", "/api/v1/health"), ("post", "/api/v1/pair"),
                                       ("post", "/api/v1/sessions")]
