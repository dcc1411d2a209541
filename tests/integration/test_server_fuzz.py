"""Hypothesis over the OpenAPI schema: no input makes the server answer 500; SQL
metacharacters and oversized values in string fields are stored verbatim or refused, never
executed. (schemathesis is not a dependency: the strategies are built here from the schema.)"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.server import enrol, make_site, running_server

NASTY = ["'", "\"", "'; DROP TABLE users; --", "\" OR 1=1 --", "') OR ('1'='1", "%", "_", "\\",
         "\x00", "Robert'); DELETE FROM grants;--", "${jndi:ldap://127.0.0.1/x}", "<script>", "\ud800",
         "\U0001f600", "a" * 5000, "\n\r\t", "NULL", "-1", "9" * 40, "../../etc/passwd", " "]
nasty_text = st.one_of(st.sampled_from(NASTY), st.text(max_size=40),
                       st.text(min_size=190, max_size=400))


def strategy_for(schema: dict, components: dict, depth: int = 0) -> st.SearchStrategy:
    """A strategy for values of one JSON schema, mixing valid and hostile values."""
    if "$ref" in schema:
        return strategy_for(components[schema["$ref"].split("/")[-1]], components, depth)
    if "anyOf" in schema:
        return st.one_of([strategy_for(s, components, depth) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "string":
        bounded = st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 50), 60))
        return st.one_of(bounded, nasty_text, st.just("2027-01-01"), st.just("08:00"))
    if kind in ("integer", "number"):
        numbers = st.integers(-2**63, 2**63) if kind == "integer" else st.floats()
        return st.one_of(numbers, st.sampled_from([0, 1, -1, 10**12]))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(strategy_for(schema.get("items", {}), components, depth + 1), max_size=3)
    if kind == "object" and depth < 4:
        return _object(schema, components, depth)
    return st.one_of(st.none(), st.integers(), nasty_text, st.dictionaries(nasty_text, st.integers(), max_size=2))


def _object(schema: dict, components: dict, depth: int) -> st.SearchStrategy:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    fixed = {k: strategy_for(v, components, depth + 1) for k, v in properties.items() if k in required}
    optional = {k: strategy_for(v, components, depth + 1) for k, v in properties.items() if k not in required}
    if not properties:
        return st.dictionaries(nasty_text, st.one_of(st.integers(), nasty_text, st.booleans()), max_size=3)
    return st.fixed_dictionaries(fixed, optional=optional)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("fuzz")) as server:
        site = make_site(server)
        person = enrol(site.admin, "Fuzz Person")
        ids = [site.site_id, site.zone_id, site.door_id, person["person_id"], person["finger_ids"][0], "1"]
        yield server, site, ids


def operations(server) -> list[tuple[str, str, dict | None]]:
    spec = server.app.openapi()
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if path == "/api/v1/sessions/current":
                continue  # logging out would turn every later example into a 401
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            found.append((method, path, body.get("schema")))
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_input_makes_the_server_fail(world, data) -> None:
    server, site, ids = world
    spec = server.app.openapi()
    method, path, schema = data.draw(st.sampled_from(operations(server)))
    concrete = re.sub(r"\{[^}]+\}", lambda _: quote(data.draw(st.one_of(st.sampled_from(ids), nasty_text)), safe="", errors="surrogatepass"),
                      path)
    body = None
    if schema is not None:
        body = data.draw(st.one_of(strategy_for(schema, spec["components"]["schemas"]),
                                   st.just([]), st.just("x"), st.just({"unknown": 1})))
    token = site.door.token if path.startswith("/api/v1/device/") else site.admin.headers["Authorization"].split()[1]
    with server.client(token) as client:
        content = None if body is None else json.dumps(body).encode()  # ASCII-escaped: lone surrogates arrive
        answer = client.request(method.upper(), concrete, content=content,
                                headers={"Content-Type": "application/json"},
                                params={"wait": 0} if "bundle" in path else None)
    assert answer.status_code < 500, (method, concrete, body, answer.text)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.one_of(st.sampled_from([n for n in NASTY if n.strip() and "\ud800" not in n]),
                      st.text(min_size=1, max_size=200).filter(lambda s: "\ud800" not in s)))
def test_string_fields_are_stored_verbatim_never_executed(world, name) -> None:
    server, site, _ = world
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return
    answer = site.admin.post("/api/v1/people", content=json.dumps({"name": name}),
                             headers={"Content-Type": "application/json"})
    if len(name) > 200:
        assert answer.status_code == 422
        return
    assert answer.status_code == 201, answer.text
    assert site.admin.get(f"/api/v1/people/{answer.json()['id']}").json()["name"] == name
    # Tables intact (the door itself may be gone: the fuzz above may have drawn its DELETE).
    assert site.admin.get("/api/v1/doors").status_code == 200
    assert site.admin.get("/api/v1/sites").json()[0]["id"] == site.site_id


def test_oversized_and_invalid_utf8_values_are_refused_naming_the_field(world) -> None:
    _, site, _ = world
    answer = site.admin.post("/api/v1/people", json={"name": "x" * 10_000})
    assert answer.status_code == 422 and "name" in answer.text
    answer = site.admin.post("/api/v1/people", content=b'{"name": "\\ud800"}',
                             headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and "name" in answer.text
