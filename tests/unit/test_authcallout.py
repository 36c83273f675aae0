"""The auth callout's protocol, pure: reading the server's authorization request and
signing the answer (a user JWT with exactly the granted permissions, or the refusal)."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

import nkeys
import pytest

from shared import authcallout, natsauth
from shared.authcallout import AuthRequest, BadToken, Grant

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def seed(prefix: int) -> bytes:
    return bytes(nkeys.encode_seed(os.urandom(32), prefix))


SERVER_SEED = seed(nkeys.PREFIX_BYTE_SERVER)
ISSUER_SEED = seed(nkeys.PREFIX_BYTE_ACCOUNT)
USER_NKEY = nkeys.from_seed(bytearray(seed(nkeys.PREFIX_BYTE_USER))).public_key.decode()
SERVER_ID = nkeys.from_seed(bytearray(SERVER_SEED)).public_key.decode()


def server_request(
    server_seed: bytes = SERVER_SEED, server_id: str = SERVER_ID, **connect_opts: str
) -> str:
    """What nats-server publishes on `$SYS.REQ.USER.AUTH` for a connecting client."""
    claims = {
        "sub": USER_NKEY,
        "aud": "nats-authorization-request",
        "nats": {
            "type": "authorization_request",
            "version": 2,
            "server_id": {"name": "womento-embedded", "id": server_id},
            "user_nkey": USER_NKEY,
            "client_info": {"host": "127.0.0.1", "id": 42, "kind": "Client"},
            "connect_opts": connect_opts,
        },
    }
    return authcallout.encode(claims, server_seed, now=NOW)


def verified_claims(token: str, issuer_seed: bytes) -> dict[str, object]:
    head, body, signature = token.split(".")
    issuer = nkeys.from_seed(bytearray(issuer_seed))
    padded = signature + "=" * (-len(signature) % 4)
    assert issuer.verify(f"{head}.{body}".encode(), base64.urlsafe_b64decode(padded))
    return authcallout.decode(token)


def test_the_request_is_read_field_by_field() -> None:
    request = authcallout.parse_request(server_request(user="cred-id", **{"pass": "secret"}))
    assert request == AuthRequest(
        server_id=SERVER_ID,
        user_nkey=USER_NKEY,
        client_id=42,
        client_host="127.0.0.1",
        user="cred-id",
        password="secret",
    )


def test_a_request_without_user_or_password_reads_as_none() -> None:
    request = authcallout.parse_request(server_request())
    assert (request.user, request.password) == (None, None)


@pytest.mark.parametrize(
    "token",
    ["", "not.a.jwt", "a.b", authcallout.encode({"nats": {"type": "user"}}, SERVER_SEED, now=NOW)],
)
def test_anything_but_an_authorization_request_is_refused(token: str) -> None:
    with pytest.raises(BadToken):
        authcallout.parse_request(token)


def test_a_grant_is_a_signed_user_jwt_with_exactly_the_partners_permissions() -> None:
    request = authcallout.parse_request(server_request(user="cred-id", **{"pass": "secret"}))
    partner = "5b0f3f0e-8c1a-4d7e-9f36-1d2a7c9e4b10"
    permissions = natsauth.partner_permissions(
        partner_id=partner, durable=natsauth.partner_durable(partner)
    )
    expires = NOW + timedelta(minutes=10)
    grant = Grant(account="PARTNERS", name="partner", permissions=permissions, expires=expires)

    answer = verified_claims(
        authcallout.response(request, grant, ISSUER_SEED, now=NOW), ISSUER_SEED
    )
    assert answer["sub"] == USER_NKEY and answer["aud"] == SERVER_ID
    nats = answer["nats"]
    assert isinstance(nats, dict) and nats["type"] == "authorization_response"
    assert "error" not in nats

    user = verified_claims(nats["jwt"], ISSUER_SEED)
    assert user["sub"] == USER_NKEY and user["aud"] == "PARTNERS"
    assert user["exp"] == int(expires.timestamp())
    issuer_public = nkeys.from_seed(bytearray(ISSUER_SEED)).public_key.decode()
    assert user["iss"] == issuer_public and user["jti"]
    claims = user["nats"]
    assert isinstance(claims, dict)
    assert claims["pub"] == {"allow": list(permissions.publish)}
    assert claims["sub"] == {"allow": list(permissions.subscribe)}
    assert not any(s.startswith("$JS.API.CONSUMER.CREATE") for s in permissions.publish)


def test_a_refusal_carries_the_reason_and_no_user() -> None:
    request = authcallout.parse_request(server_request(user="cred-id", **{"pass": "wrong"}))
    answer = verified_claims(
        authcallout.response(request, "wrong_secret", ISSUER_SEED, now=NOW), ISSUER_SEED
    )
    nats = answer["nats"]
    assert isinstance(nats, dict)
    assert nats["error"] == "wrong_secret" and "jwt" not in nats


def test_no_permissions_means_nothing_is_allowed() -> None:
    config = natsauth.Permissions().as_config()
    assert config == {"publish": {"allow": ["_NOTHING_"]}, "subscribe": {"allow": ["_NOTHING_"]}}


def test_a_request_not_signed_by_the_server_it_names_is_refused() -> None:
    other_server = seed(nkeys.PREFIX_BYTE_SERVER)
    with pytest.raises(BadToken, match="not signed by the server it names"):
        authcallout.parse_request(server_request(server_seed=other_server))
    # The claims of one request under the signature of another: refused.
    head, _, signature = server_request(user="cred-id").split(".")
    _, other_claims, _ = server_request(user="someone-else").split(".")
    with pytest.raises(BadToken, match="not signed by its issuer"):
        authcallout.parse_request(f"{head}.{other_claims}.{signature}")
