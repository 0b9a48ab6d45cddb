"""Drive Schemathesis cases through the in-process gateway that runs on the test session's event loop.

Schemathesis' own ASGI transport starts the application's lifespan again on its private event loop;
the gateway's database pool and Redis client belong to the loop they were created on. So the cases
are generated and checked by Schemathesis and Hypothesis in a worker thread, and each request is
handed back to the session loop, where an httpx client speaking ASGI sends it to the same app.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, GenerationMode, Response

BASE_URL = "http://gateway.test"
REQUEST_TIMEOUT = 60.0
_REQUEST_KEYS = ("method", "url", "headers", "files", "data", "params", "cookies", "json")
# A whole bcrypt hash: no generated input contains one by chance, and no response may carry one.
BCRYPT_HASH = re.compile(rb"\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}")
FORBIDDEN_MARKERS = ("password_hash",)


def settings_for(max_examples: int) -> settings:
    """Bounded and reproducible: the same commit always sends the same requests (no example database)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )


def attack_client(app: Any, address: str) -> httpx.AsyncClient:
    """A client of the in-process app from `address`; a 500 comes back as a response, not an exception."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


class Sender:
    """Sends a case to the gateway from a worker thread and waits for the answer."""

    def __init__(self, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.loop = loop

    def run(self, coroutine: Any) -> Any:
        """Run a coroutine on the session loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(REQUEST_TIMEOUT)

    def send(self, case: Case, headers: dict[str, str]) -> httpx.Response:
        """Serialize the case as Schemathesis would put it on the wire, and send it."""
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
        prepared = requests.Request(**{k: v for k, v in kwargs.items() if k in _REQUEST_KEYS}).prepare()
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        sent_headers = {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}
        assert prepared.method is not None and prepared.url is not None
        return self.run(self.client.request(prepared.method, prepared.url, headers=sent_headers, content=body))


def no_secrets_in_responses(secrets: Iterable[str]) -> Callable[[CheckContext, Response, Case], bool | None]:
    """A check failing when a response body or header carries any of `secrets` or a password hash."""
    needles = [s.encode() for s in secrets if s] + [m.encode() for m in FORBIDDEN_MARKERS]

    def check(ctx: CheckContext, response: Response, case: Case) -> bool | None:
        raw = response.content + b"\n" + repr(response.headers).encode()
        found = [n.decode() for n in needles if n in raw]
        if BCRYPT_HASH.search(raw):
            found.append("a bcrypt hash")
        # Only the first characters are shown, so the report does not spread the secret further.
        assert not found, "the response carries secrets: " + ", ".join(f[:6] + "…" for f in found)
        return None

    check.__name__ = "no_secrets_in_responses"
    return check


def cases(
    operation: Any, mode: GenerationMode, headers: dict[str, str], path_ids: dict[str, list[str]]
) -> st.SearchStrategy[Case]:
    """Generated cases of `mode`; with real ids for the path parameters in some of them."""
    generated = operation.as_strategy(generation_mode=mode, headers=headers)
    names = [p.name for p in operation.path_parameters]
    fixed = [
        operation.as_strategy(generation_mode=mode, headers=headers, path_parameters={name: value})
        for name in names
        for value in path_ids.get(name, [])
    ]
    return st.one_of(generated, *fixed) if fixed else generated


# Values valid by the schema that servers often mishandle: text Postgres refuses, datetimes whose UTC
# conversion leaves the representable range, days at the ends of the calendar.
HOSTILE_TEXT = "nul\x00byte"
HOSTILE_DATETIMES = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")
HOSTILE_DATES = ("0001-01-01", "9999-12-31")


def hostile_values(schema: dict[str, Any]) -> list[str]:
    """Values of a string schema (or of its string alternative) that are valid and hostile."""
    strings = [s for s in schema.get("anyOf", [schema]) if s.get("type") == "string"]
    if not strings or {"enum", "const", "pattern"} & strings[0].keys():
        return []
    string = strings[0]
    if string.get("format") == "date-time":
        return list(HOSTILE_DATETIMES)
    if string.get("format") == "date":
        return list(HOSTILE_DATES)
    if "format" in string:
        return []
    text = HOSTILE_TEXT.ljust(string.get("minLength", 0), "x")
    return [text] if len(text) <= string.get("maxLength", len(text)) else []


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def hostile_cases(
    operation: Any, document: dict[str, Any], headers: dict[str, str], path_ids: dict[str, list[str]]
) -> list[tuple[str, st.SearchStrategy[Case]]]:
    """For each string query parameter and top-level body property: valid cases carrying a hostile value there.

    Path parameters take the first real id of their kind, so the value reaches the row's code path.
    """
    found: list[tuple[str, st.SearchStrategy[Case]]] = []
    real = {p.name: path_ids[p.name][0] for p in operation.path_parameters if path_ids.get(p.name)}
    for parameter in operation.query:
        for value in hostile_values(parameter.definition.get("schema", {})):
            strategy = operation.as_strategy(headers=headers, path_parameters=real, query={parameter.name: value})
            found.append((f"query {parameter.name}={value!r}", strategy))
    raw = document["paths"][operation.path][operation.method.lower()].get("requestBody", {})
    for media_type, content in raw.get("content", {}).items():
        properties = _resolve(document, content.get("schema", {})).get("properties", {})
        for name, schema in properties.items():
            for value in hostile_values(_resolve(document, schema)):
                strategy = operation.as_strategy(headers=headers, path_parameters=real, media_type=media_type).map(
                    lambda case, name=name, value=value: _with_body_value(case, name, value)
                )
                found.append((f"body {name}={value!r}", strategy))
    return found


def _with_body_value(case: Case, name: str, value: str) -> Case:
    if isinstance(case.body, dict):
        case.body = {**case.body, name: value}
    return case


def run_cases(strategy: st.SearchStrategy[Case], max_examples: int, test: Callable[[Case], None]) -> None:
    """Run `test` on up to `max_examples` cases of `strategy` (call it from a worker thread)."""

    @settings_for(max_examples)
    @given(case=strategy)
    def property_test(case: Case) -> None:
        test(case)

    property_test()


def load_schema(document: dict[str, Any]) -> Any:
    """The Schemathesis schema of the OpenAPI document the running app served."""
    return schemathesis.openapi.from_dict(document)
