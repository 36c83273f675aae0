"""Who may connect to NATS, and what each identity may publish, subscribe and consume.

The server runs in configuration mode with four accounts (see `docs/partners.md`):

- `WOMENTO`: the four services, one nkey user each, with permissions derived from the
  service's own definition (the events it produces, the durable consumers it has, the
  commands it answers); and `admin`, for operators' tools and the test suite.
- `PARTNERS`: partner systems. None is in the server configuration: intake's auth callout
  admits each connection against the credentials in its database and grants it only its
  own feed (`womento.partner.<organisation>.<partner>.>`), through a pull consumer the
  gateway creates for it. `partner-gateway` (intake) keeps
  the feed stream `PARTNER_FEED` and delivers webhooks from it.
- `AUTH`: `auth-callout`, the user with which intake answers the server's authorization
  requests. The requests carry partners' secrets, so nothing else lives in this account.
- `SYS`: the system account; `sys-kick` (intake) may only disconnect a client, which it
  does to a revoked partner's live connection.

The accounts share nothing (no exports, no imports): intake's gateway copies each message
of `WOMENTO_PARTNER` (the curated feed intake's outbox publishes in `WOMENTO`) into
`PARTNER_FEED` in `PARTNERS`, acknowledging the source only once the copy is stored, so a
copy is never lost and partners never reach the services' streams or subjects. (A stream
import would be a plain, unacknowledged delivery into the partners' stream: a message
published while that stream was unavailable would never reach partners.)

Every identity has an nkey seed in one directory (`<name>.nk`, mode 0600); a deployment
mounts into each service only the files that service needs (`deploy/README.md`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import nkeys

from shared.events import SERVICES, Event
from shared.subjects import (
    DLQ_STREAM,
    PARTNER_STREAM,
    PARTNER_SUBJECTS,
    durable_name,
    partner_subject,
    stream_name,
)

APP_ACCOUNT = "WOMENTO"
PARTNER_ACCOUNT = "PARTNERS"
AUTH_ACCOUNT = "AUTH"
SYSTEM_ACCOUNT = "SYS"

PARTNER_FEED_STREAM = "PARTNER_FEED"
"""In `PARTNERS`: the copies of `WOMENTO_PARTNER`'s messages; partners' consumers live here."""
GATEWAY_DURABLE = "intake_partner_gateway"
"""intake's durable consumer on `WOMENTO_PARTNER`, which copies it into `PARTNER_FEED`."""

ADMIN = "admin"
PROVISIONER = "provisioner"
"""Creates and updates the services' streams (`provisioner_permissions`); in no service."""
PARTNER_GATEWAY = "partner-gateway"
AUTH_CALLOUT = "auth-callout"
SYS_KICK = "sys-kick"
CALLOUT_ISSUER = "callout-issuer"
"""An account key (not a user): signs the user claims the auth callout grants."""

USERS: Mapping[str, str] = {
    **{service: APP_ACCOUNT for service in SERVICES},
    ADMIN: APP_ACCOUNT,
    PROVISIONER: APP_ACCOUNT,
    PARTNER_GATEWAY: PARTNER_ACCOUNT,
    AUTH_CALLOUT: AUTH_ACCOUNT,
    SYS_KICK: SYSTEM_ACCOUNT,
}
"""Every static identity and its account."""

INTAKE_EXTRA_IDENTITIES = (PARTNER_GATEWAY, AUTH_CALLOUT, SYS_KICK, CALLOUT_ISSUER)
"""Seeds intake needs besides its own: it hosts the partner gateway and the auth callout."""


def inbox_prefix(identity: str) -> str:
    """Each identity's private reply subjects: nobody can read another's replies."""
    return "_INBOX_" + identity.replace("-", "_")


COMMAND_SENDERS = ("intake", ADMIN)
"""The identities whose permissions let them send commands (`womento.cmd.>`)."""


def command_reply_prefixes() -> tuple[str, ...]:
    """A genuine command's reply subject starts with one of these: the inbox of an identity
    that may send commands. What the server itself delivers (a push consumer's deliver
    subject, a pull request's reply subject, which it does not check against anyone's
    permissions: nats-io/nats-server#8274) carries a `$JS.ACK.` reply or none, so a
    service that may publish into some stream cannot pass it off as a command."""
    return tuple(inbox_prefix(identity) + "." for identity in COMMAND_SENDERS)


def client_options(credentials_dir: Path | None, identity: str) -> dict[str, str]:
    """`nats.connect(url, **client_options(...))` as `identity`: its seed and inbox prefix."""
    options = {"inbox_prefix": inbox_prefix(identity)}
    if credentials_dir is not None:
        seed = credentials_dir / f"{identity}.nk"
        if not seed.is_file():
            raise FileNotFoundError(f"no NATS credential for {identity}: {seed} is missing")
        options["nkeys_seed"] = str(seed)
    return options


# --- permissions -------------------------------------------------------------------------


class ServiceShape(Protocol):
    """What permissions are derived from: a `shared.service.ServiceDefinition`."""

    @property
    def name(self) -> str: ...

    @property
    def consumed_events(self) -> Sequence[type[Event]]: ...

    @property
    def command_subjects(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    allow_responses: bool = False

    def as_config(self) -> dict[str, Any]:
        """The server's `permissions` map; an empty list means nothing is allowed."""
        config: dict[str, Any] = {
            "publish": {"allow": list(self.publish) or ["_NOTHING_"]},
            "subscribe": {"allow": list(self.subscribe) or ["_NOTHING_"]},
        }
        if self.allow_responses:
            config["allow_responses"] = True
        return config


def consumer_api(stream: str, durable: str, filter_subject: str) -> list[str]:
    """The JetStream API subjects that create (with exactly that filter: the server checks
    the request's filter against the one in the subject), inspect, pull from and ack one
    durable. Not the forms without a filter in the subject (`CONSUMER.CREATE.<s>.<d>`,
    `CONSUMER.DURABLE.CREATE`), whose filter, in the request body, nobody checks."""
    return [
        f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.{filter_subject}",
        f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    ]


def platform_streams() -> tuple[str, ...]:
    """Every stream of the services' account: one per producer, the dead letters, the
    partner feed as intake publishes it."""
    return (*(stream_name(service) for service in SERVICES), DLQ_STREAM, PARTNER_STREAM)


def provisioner_permissions() -> Permissions:
    """The one identity that creates and updates the services' streams (`shared/provision.py`,
    a step of every start-up: launcher, docker compose, a Kubernetes Job). No service may:
    a stream's configuration (subjects, sources, republish) is carried out with the
    account's rights, so a service that could change its own stream could make it capture
    and republish, e.g., intake's command replies to where it may read them."""
    publish = ["$JS.API.INFO"]
    for stream in platform_streams():
        publish += [f"$JS.API.STREAM.{op}.{stream}" for op in ("INFO", "CREATE", "UPDATE")]
    return Permissions(publish=tuple(publish), subscribe=(f"{inbox_prefix(PROVISIONER)}.>",))


def service_permissions(service: ServiceShape) -> Permissions:
    """Least privilege for one service: its own events and dead letters, its own stream,
    its own durable consumers (one per consumed event), its own commands; intake alone
    sends commands and publishes the partner feed."""
    name = service.name
    publish = [f"womento.{name}.>", f"womento.dlq.{name}.>", "$JS.API.INFO"]
    streams = [stream_name(name), DLQ_STREAM]
    for event in service.consumed_events:
        stream = stream_name(event.producer)
        streams.append(stream)
        publish += consumer_api(stream, durable_name(name, event), event.subject())
    subscribe = [f"{inbox_prefix(name)}.>"]
    subscribe += sorted({subject.rsplit(".", 1)[0] + ".>" for subject in service.command_subjects})
    if name == "intake":
        publish += ["womento.cmd.>", PARTNER_SUBJECTS]  # COMMAND_SENDERS
        streams.append(PARTNER_STREAM)
        publish += consumer_api(PARTNER_STREAM, GATEWAY_DURABLE, PARTNER_SUBJECTS)
        # Erasure: read and (securely) delete the messages that name an erased person.
        for stream in platform_streams():
            publish += [f"$JS.API.STREAM.MSG.{op}.{stream}" for op in ("GET", "DELETE")]
    # Streams: look only (`bus.check_streams`); the provisioner makes them.
    publish += [f"$JS.API.STREAM.INFO.{stream}" for stream in dict.fromkeys(streams)]
    return Permissions(
        publish=tuple(dict.fromkeys(publish)),
        subscribe=tuple(subscribe),
        allow_responses=bool(service.command_subjects),
    )


def gateway_permissions() -> Permissions:
    """intake's user in `PARTNERS`: the feed stream (it alone publishes into it), the
    partners' durable consumers and the webhook consumers on it, and the partners' replay
    requests (answered through `allow_responses`)."""
    feed = PARTNER_FEED_STREAM
    return Permissions(
        publish=(
            PARTNER_SUBJECTS,
            "$JS.API.INFO",
            f"$JS.API.STREAM.MSG.GET.{feed}",
            *(f"$JS.API.STREAM.{op}.{feed}" for op in ("INFO", "CREATE", "UPDATE")),
            f"$JS.API.CONSUMER.*.{feed}",
            f"$JS.API.CONSUMER.*.{feed}.>",
            f"$JS.API.CONSUMER.MSG.NEXT.{feed}.*",
            f"$JS.ACK.{feed}.>",
        ),
        subscribe=(f"{inbox_prefix(PARTNER_GATEWAY)}.>", partner_replay_subject("*")),
        allow_responses=True,
    )


PARTNER_REPLAY_PREFIX = "partner.replay"
"""In `PARTNERS`: `partner.replay.<partner>`, a partner's request (served by intake's
gateway) to read its feed again from a moment on."""


def partner_replay_subject(partner_id: str) -> str:
    return f"{PARTNER_REPLAY_PREFIX}.{partner_id}"


def partner_permissions(*, partner_id: str, durable: str) -> Permissions:
    """One partner's connection: pull from and ack its own durable consumer, ask for a
    replay of its own feed, read its own inbox. Nothing else: no stream listing, no direct
    get, no publish, and no consumer creation or deletion at all.

    The gateway creates each partner's durable (a pull consumer filtered on the partner's
    own feed subjects, `gateway.ensure_partner_consumer`) when it admits the connection.
    Partners may not create consumers themselves because the server does not check a push
    consumer's `deliver_subject` against its creator's permissions (nats-server 2.15,
    nats-io/nats-server#8274): a partner allowed `CONSUMER.CREATE` on its own durable and
    filter could point the deliveries of its feed at another partner's inbox subscription
    or any other subject a client listens on in `PARTNERS` (tests/e2e/test_bus_permissions.py).
    A replay from a date, which needs a new consumer (the deliver policy of a consumer cannot
    change), is a request to the gateway (`partner_replay_subject`), which re-creates the
    durable as a pull consumer starting at that moment.

    What remains: the server does not check a pull request's reply subject either, so a
    partner can have its own feed's messages delivered to a subject it names. In `PARTNERS`
    the only subscriptions are random inboxes and `partner.replay.*`, whose responder
    ignores anything whose reply is not the partner's own inbox."""
    feed = PARTNER_FEED_STREAM
    return Permissions(
        publish=(
            f"$JS.API.CONSUMER.INFO.{feed}.{durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{feed}.{durable}",
            f"$JS.ACK.{feed}.{durable}.>",
            partner_replay_subject(partner_id),
        ),
        subscribe=(f"{partner_inbox_prefix(partner_id)}.>",),
    )


def partner_subject_filter(organisation_id: str, partner_id: str) -> str:
    return partner_subject(organisation_id, partner_id, ">")


def partner_inbox_prefix(partner_id: str) -> str:
    return f"_INBOX_{partner_id.replace('-', '')}"


def partner_durable(partner_id: str) -> str:
    return f"partner_{partner_id.replace('-', '')}"


# --- credentials and the server configuration ------------------------------------------------


@dataclass(frozen=True)
class Identity:
    name: str
    seed: bytes
    public_key: str


@dataclass
class Credentials:
    """The seeds of every static identity, kept in `directory` as `<name>.nk`."""

    directory: Path
    identities: dict[str, Identity] = field(default_factory=dict)

    def seed_file(self, name: str) -> Path:
        return self.directory / f"{name}.nk"

    def public_key(self, name: str) -> str:
        return self.identities[name].public_key


def ensure_credentials(directory: Path) -> Credentials:
    """Create every identity's seed once (kept across runs); read the existing ones."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    credentials = Credentials(directory)
    wanted = {**{name: nkeys.PREFIX_BYTE_USER for name in USERS}}
    wanted[CALLOUT_ISSUER] = nkeys.PREFIX_BYTE_ACCOUNT
    for name, prefix in wanted.items():
        path = credentials.seed_file(name)
        if not path.exists():
            seed = nkeys.encode_seed(os.urandom(32), prefix)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(seed)
        seed = path.read_bytes().strip()
        credentials.identities[name] = Identity(name, seed, read_public_key(seed))
    return credentials


def read_public_key(seed: bytes) -> str:
    """The public key of an nkey seed; `ValueError` naming the problem if it is not one."""
    try:
        return str(nkeys.from_seed(bytearray(seed)).public_key.decode())
    except Exception as exc:
        raise ValueError(f"not an nkey seed: {type(exc).__name__}") from None


def accounts_config(credentials: Credentials, services: Iterable[ServiceShape]) -> dict[str, Any]:
    """The `accounts`, `system_account` and `authorization` blocks of the server config."""
    by_name = {service.name: service for service in services}
    missing = set(SERVICES) - set(by_name)
    if missing:
        raise ValueError(f"no definition for {', '.join(sorted(missing))}")

    def user(name: str, permissions: Permissions | None) -> dict[str, Any]:
        entry: dict[str, Any] = {"nkey": credentials.public_key(name)}
        if permissions is not None:
            entry["permissions"] = permissions.as_config()
        return entry

    app_users = [user(s, service_permissions(by_name[s])) for s in SERVICES]
    app_users.append(user(ADMIN, None))
    app_users.append(user(PROVISIONER, provisioner_permissions()))
    callout_only = Permissions(subscribe=("$SYS.REQ.USER.AUTH",), allow_responses=True)
    kick_only = Permissions(
        publish=("$SYS.REQ.SERVER.*.KICK",), subscribe=(f"{inbox_prefix(SYS_KICK)}.>",)
    )
    return {
        "accounts": {
            APP_ACCOUNT: {
                "jetstream": "enabled",
                "users": app_users,
            },
            PARTNER_ACCOUNT: {
                "jetstream": "enabled",
                "users": [user(PARTNER_GATEWAY, gateway_permissions())],
            },
            AUTH_ACCOUNT: {"users": [user(AUTH_CALLOUT, callout_only)]},
            SYSTEM_ACCOUNT: {"users": [user(SYS_KICK, kick_only)]},
        },
        "system_account": SYSTEM_ACCOUNT,
        "authorization": {
            "auth_callout": {
                "issuer": credentials.public_key(CALLOUT_ISSUER),
                "account": AUTH_ACCOUNT,
                "auth_users": [credentials.public_key(name) for name in USERS],
            }
        },
    }


def write_server_config(
    path: Path,
    credentials: Credentials,
    services: Iterable[ServiceShape],
    tls: Mapping[str, str] | None = None,
) -> Path:
    """The accounts configuration as a file the server loads (JSON is valid NATS conf);
    with `tls` (`cert_file`, `key_file`, ...), clients must connect over TLS."""
    config = accounts_config(credentials, services)
    if tls is not None:
        config["tls"] = dict(tls)
    text = json.dumps(config, indent=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def service_definitions() -> list[ServiceShape]:
    """The four services' definitions (imported here, not at module import)."""
    import importlib

    return [importlib.import_module(f"services.{name}.app").DEFINITION for name in SERVICES]


# --- the deployment's credentials: python -m shared.natsauth ---------------------------------


def seed_files_by_service() -> dict[str, tuple[str, ...]]:
    """The seed files each service's pods mount: its own, and intake also the four of
    `INTAKE_EXTRA_IDENTITIES`. `admin.nk` belongs to operators and to no service."""
    return {
        service: (f"{service}.nk",)
        + (tuple(f"{name}.nk" for name in INTAKE_EXTRA_IDENTITIES) if service == "intake" else ())
        for service in SERVICES
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Make (or keep) every identity's seed in a directory and write the accounts config
    that every NATS server of a deployment includes; print where each file goes, never a
    seed. Run again after deleting a seed to rotate it (`deploy/README.md`)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m shared.natsauth",
        description="NATS credentials for a deployment: one nkey seed per identity "
        "(kept if present) and the servers' accounts configuration.",
    )
    parser.add_argument("credentials_dir", type=Path, help="directory of the <identity>.nk seeds")
    parser.add_argument("accounts_conf", type=Path, help="where to write accounts.conf")
    args = parser.parse_args(argv)

    try:
        credentials = ensure_credentials(args.credentials_dir)
    except ValueError:
        seeds = sorted(args.credentials_dir.glob("*.nk"))
        bad = ", ".join(path.name for path in seeds if not _is_seed(path))
        parser.exit(2, f"{parser.prog}: error: not an nkey seed: {bad} (delete it to renew)\n")
    write_server_config(args.accounts_conf, credentials, service_definitions())
    print(f"{args.accounts_conf}: accounts, users and permissions (public keys only)")
    print("  -> every NATS server (`include accounts.conf`)")
    print(f"{args.credentials_dir}/: nkey seeds (secret, mode 0600)")
    for service, files in seed_files_by_service().items():
        print(f"  -> {service}: {' '.join(files)}")
    print(f"  -> the stream provisioning step (nats-streams), no service: {PROVISIONER}.nk")
    print(f"  -> operators' tools only, no service: {ADMIN}.nk")
    return 0


def _is_seed(path: Path) -> bool:
    try:
        read_public_key(path.read_bytes().strip())
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
