"""Fuzzing the JWT decoder: whatever arrives in `Authorization` or a refresh body, `verify` either
returns the claims of a token we issued or raises `InvalidTokenError` (the endpoints turn it into 401).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
from hypothesis import assume, event, example, given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import json_values, mutated
from wafaa.gateway.auth.tokens import InvalidTokenError, TokenClaims, TokenService, TokenType
from wafaa.gateway.config import GatewaySettings

pytestmark = pytest.mark.fuzz

SETTINGS = GatewaySettings()
TOKENS = TokenService(SETTINGS)
SECRETS: dict[TokenType, str] = {
    "access": SETTINGS.jwt_secret.get_secret_value(),
    "refresh": SETTINGS.jwt_refresh_secret.get_secret_value(),
}
KINDS = st.sampled_from(["access", "refresh"])
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    """A JSON value as a JWT segment (NaN and huge numbers included: Python's json writes them)."""
    return b64(json.dumps(value).encode())


def hs256(signing_input: str, secret: str) -> str:
    return b64(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())


def verify_or_invalid(token: str, kind: TokenType) -> TokenClaims | None:
    """The claims, or None when the token was refused with the documented error (anything else fails)."""
    try:
        claims = TOKENS.verify(token, kind)
    except InvalidTokenError:
        return None
    assert isinstance(claims, TokenClaims)
    return claims


VALID_HEADER = {"alg": "HS256", "typ": "JWT"}
VALID_CLAIMS = {
    "typ": "access",
    "sub": str(uuid.UUID(int=1)),
    "tid": str(uuid.UUID(int=2)),
    "fam": str(uuid.UUID(int=3)),
    "jti": str(uuid.UUID(int=4)),
    "iat": 2_000_000_000,
    "exp": 2_000_000_900,
    "iss": SETTINGS.jwt_issuer,
}
# Well-formed shapes with a field or two changed reach deeper checks than random JSON does.
headers = st.one_of(
    json_values,
    mutated(VALID_HEADER),
    st.builds(lambda alg: {**VALID_HEADER, "alg": alg}, st.sampled_from(["none", "None", "HS512", "RS256", ""])),
)
claim_sets = st.one_of(json_values, mutated(VALID_CLAIMS))


@given(st.text(max_size=300), KINDS)
@example("", "access")
@example("\ud800.\udfff.x", "access")
@example("a.b", "refresh")
@example("." * 10_000, "access")
def test_arbitrary_strings_are_refused_with_invalid_token_error(token: str, kind: TokenType) -> None:
    """No string (empty, dotted garbage, lone surrogates from a JSON body) gets past with another error."""
    assert verify_or_invalid(token, kind) is None


@given(headers, claim_sets, st.binary(max_size=64), KINDS)
def test_forged_tokens_with_arbitrary_json_segments_are_refused(
    header: Any, claims: Any, signature: bytes, kind: TokenType
) -> None:
    """A token built from any JSON header and payload, signed with garbage, never verifies."""
    token = f"{segment(header)}.{segment(claims)}.{b64(signature)}"
    assert verify_or_invalid(token, kind) is None


@settings(max_examples=4 * settings().max_examples)
@given(KINDS.flatmap(lambda kind: st.tuples(st.just(kind), mutated({**VALID_CLAIMS, "typ": kind}) | json_values)))
# found by this suite: python-jose's claim checks call int() on the raw value (TypeError, OverflowError)
@example(("access", {**VALID_CLAIMS, "iat": None}))
@example(("access", {**VALID_CLAIMS, "exp": float("inf")}))
@example(("refresh", {**VALID_CLAIMS, "typ": "refresh", "iat": [1]}))
@example(("refresh", {**VALID_CLAIMS, "typ": "refresh"}))
def test_correctly_signed_tokens_with_odd_claims_raise_only_invalid_token_error(case: tuple[TokenType, Any]) -> None:
    """Even with the real secret, malformed claims (wrong types, NaN, huge numbers, missing) only yield
    the documented error; a token that does verify has every claim the service relies on."""
    kind, claims = case
    signing_input = f"{segment(VALID_HEADER)}.{segment(claims)}"
    result = verify_or_invalid(f"{signing_input}.{hs256(signing_input, SECRETS[kind])}", kind)
    event("refused" if result is None else "verified")
    if result is not None:
        assert isinstance(claims, dict)
        assert claims["typ"] == kind and claims["iss"] == SETTINGS.jwt_issuer
        assert (result.user_id, result.tenant_id) == (uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["tid"])))
        assert (result.jti, result.family_id) == (uuid.UUID(str(claims["jti"])), uuid.UUID(str(claims["fam"])))
        assert result.expires_at == int(claims["exp"]) > time.time()


def _decoded_segments(token: str) -> list[bytes] | None:
    """Each segment's bytes as a lenient base64url decoder reads them, or None if one does not decode."""
    out = []
    for part in token.split("."):
        try:
            out.append(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        except ValueError:
            return None
    return out


@st.composite
def one_character_changed(draw: st.DrawFn) -> tuple[str, str, TokenType, TokenClaims]:
    kind: TokenType = draw(KINDS)
    ids = [uuid.UUID(int=draw(st.integers(0, 2**128 - 1))) for _ in range(3)]
    issued = TOKENS.issue(kind, ids[0], ids[1], ids[2])
    token = issued.token
    index = draw(st.integers(0, len(token) - 1))
    replacement = draw(st.sampled_from(BASE64URL + ".=+/ ") | st.characters())
    assume(replacement != token[index])
    return token, token[:index] + replacement + token[index + 1 :], kind, issued.claims


@given(one_character_changed())
def test_a_token_with_one_character_changed_never_verifies(case: tuple[str, str, TokenType, TokenClaims]) -> None:
    """Editing any character of a valid token is refused with `InvalidTokenError`.

    The one tolerated exception is a change that leaves every decoded segment byte-identical (base64
    padding bits of the signature's last character): that is the same signed token, so it may verify,
    and then only to the very same claims.
    """
    original, edited, kind, claims = case
    assert TOKENS.verify(original, kind) == claims
    result = verify_or_invalid(edited, kind)
    if result is not None:
        assert edited.split(".")[:2] == original.split(".")[:2], "an edited header or payload verified"
        assert _decoded_segments(edited) == _decoded_segments(original), "a different signature verified"
        assert result == claims
