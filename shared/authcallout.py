"""NATS auth callout: the server asks a service whether to admit a connection.

When a client that is not a static user connects, the server sends a JWT
(`authorization_request`, signed by the server) to `$SYS.REQ.USER.AUTH` in the callout's
account; the answer is a JWT (`authorization_response`, signed by the callout issuer key)
holding either an error or a user JWT that names the account the client joins and its
permissions. The server enforces those permissions and the user JWT's expiry.

This module is the wire format (nkey-signed JWTs, as nats-io/jwt v2 encodes them) and the
responder loop; what to admit is the caller's `authorize` function.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nacl.signing
import nkeys
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from shared.natsauth import Permissions

log = logging.getLogger(__name__)

AUTH_SUBJECT = "$SYS.REQ.USER.AUTH"
HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}


class BadToken(ValueError):
    pass


@dataclass(frozen=True)
class AuthRequest:
    """What the server tells about a connecting client."""

    server_id: str
    user_nkey: str
    client_id: int
    client_host: str
    user: str | None
    password: str | None


@dataclass(frozen=True)
class Grant:
    """Admit the client into `account` with `permissions` until `expires` (then the server
    disconnects it, and its reconnection is asked about again)."""

    account: str
    name: str
    permissions: Permissions
    expires: datetime


Authorize = Callable[[AuthRequest], Awaitable["Grant | str"]]
"""A `Grant`, or the reason (a short code) to refuse."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: dict[str, Any], issuer_seed: bytes, *, now: datetime) -> str:
    """Sign `claims` with the nkey `issuer_seed`; sets `iss`, `iat` and `jti`."""
    issuer = nkeys.from_seed(bytearray(issuer_seed))
    body = {**claims, "iat": int(now.timestamp()), "iss": issuer.public_key.decode(), "jti": ""}
    digest = hashlib.new("sha512_256", json.dumps(body, separators=(",", ":")).encode())
    body["jti"] = base64.b32encode(digest.digest()).decode().rstrip("=")
    signing_input = f"{_b64(json.dumps(HEADER).encode())}.{_b64(json.dumps(body).encode())}"
    signature = issuer.sign(signing_input.encode())
    return f"{signing_input}.{_b64(signature)}"


def decode(token: str) -> dict[str, Any]:
    """The claims of a JWT, its signature not checked (`verified` checks it)."""
    try:
        _head, body, _signature = token.split(".")
        claims = json.loads(_unb64(body))
    except Exception as exc:
        raise BadToken(f"not a NATS JWT: {type(exc).__name__}") from None
    if not isinstance(claims, dict):
        raise BadToken("not a NATS JWT: claims are not an object")
    return claims


def verified(token: str) -> dict[str, Any]:
    """The claims of a JWT whose signature is its issuer's (`iss`, an nkey public key).
    Only the server can publish where authorization requests arrive (the callout's account
    has no other user); checking that the request is signed by the server it names is the
    second lock."""
    claims = decode(token)
    try:
        head, body, signature = token.split(".")
        _verify_key(str(claims.get("iss"))).verify(f"{head}.{body}".encode(), _unb64(signature))
    except Exception:
        raise BadToken("the JWT is not signed by its issuer") from None
    return claims


def _verify_key(public_key: str) -> nacl.signing.VerifyKey:
    """The ed25519 key of an nkey public key (base32: prefix byte, 32 bytes, CRC16)."""
    raw = base64.b32decode(public_key + "=" * (-len(public_key) % 8))
    if len(raw) != 35 or not nkeys.valid_public_prefix_byte(raw[0]):
        raise ValueError("not an nkey public key")
    if int.from_bytes(raw[33:], "little") != nkeys.crc16(raw[:33]):
        raise ValueError("bad nkey checksum")
    return nacl.signing.VerifyKey(raw[1:33])


def parse_request(token: str) -> AuthRequest:
    claims = verified(token)
    nats = claims.get("nats", {})
    if nats.get("type") != "authorization_request":
        raise BadToken("not an authorization request")
    if claims.get("iss") != nats.get("server_id", {}).get("id"):
        raise BadToken("the request is not signed by the server it names")
    options = nats.get("connect_opts", {})
    client = nats.get("client_info", {})
    return AuthRequest(
        server_id=nats["server_id"]["id"],
        user_nkey=nats["user_nkey"],
        client_id=int(client.get("id", 0)),
        client_host=str(client.get("host", "")),
        user=options.get("user"),
        password=options.get("pass"),
    )


def user_claims(request: AuthRequest, grant: Grant) -> dict[str, Any]:
    config = grant.permissions.as_config()
    nats: dict[str, Any] = {
        "pub": config["publish"],
        "sub": config["subscribe"],
        "subs": -1,
        "data": -1,
        "payload": -1,
        "type": "user",
        "version": 2,
    }
    if grant.permissions.allow_responses:
        nats["resp"] = {"max": 1, "ttl": 0}
    return {
        "sub": request.user_nkey,
        "aud": grant.account,
        "name": grant.name,
        "exp": int(grant.expires.timestamp()),
        "nats": nats,
    }


def response(
    request: AuthRequest, outcome: Grant | str, issuer_seed: bytes, *, now: datetime
) -> str:
    """The signed `authorization_response`: the user JWT, or the refusal."""
    nats: dict[str, Any] = {"type": "authorization_response", "version": 2}
    if isinstance(outcome, Grant):
        nats["jwt"] = encode(user_claims(request, outcome), issuer_seed, now=now)
    else:
        nats["error"] = outcome
    claims = {"sub": request.user_nkey, "aud": request.server_id, "nats": nats}
    return encode(claims, issuer_seed, now=now)


class CalloutResponder:
    """Answers the server's authorization requests with `authorize`'s verdicts."""

    def __init__(
        self, nc: NatsClient, authorize: Authorize, issuer_seed: bytes, clock: Any
    ) -> None:
        self.nc, self.authorize, self.issuer_seed, self.clock = nc, authorize, issuer_seed, clock

    async def start(self) -> None:
        """Subscribe in a queue group, so with several replicas each request is answered
        (and audited) once."""
        await self.nc.subscribe(AUTH_SUBJECT, queue="auth-callout", cb=self._on_request)

    async def _on_request(self, msg: Msg) -> None:
        try:
            request = parse_request(msg.data.decode())
        except (BadToken, KeyError, ValueError):
            log.warning("auth callout: malformed authorization request ignored")
            return
        try:
            outcome = await self.authorize(request)
        except Exception:
            log.exception("auth callout: authorize failed; refusing")
            outcome = "unavailable"
        answer = response(request, outcome, self.issuer_seed, now=self.clock.now())
        await msg.respond(answer.encode())
