"""`python -m services.intake.partners`: manage partners and their credentials by command.

    create  --organisation <id> --name <name> [--webhook-url <url>]
    issue   --organisation <id> --partner <id> [--days N] [--out <file>]
    list    --organisation <id>
    revoke  --organisation <id> --credential <id>

It reads the same settings as intake (`DATABASE_URL`, `WOMENTO_SECRET_KEY`, `NATS_URL`...).
`issue` writes the partner's credentials file (mode 0600) or prints it; the secret is shown
only then. Every change is audited like one made in the UI, with no coordinator as actor.
Bad input exits with status 2 and names the field; nothing is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from uuid import UUID

from services.intake.partners import domain, store
from shared.clock import SystemClock
from shared.crypto import vault_for
from shared.db import make_engine, make_sessionmaker
from shared.settings import Environment, Settings


def write_credentials_file(path: Path, document: dict[str, str]) -> None:
    """Write a credentials file readable by its owner only (0600), also when it replaces
    a file that was more open (`os.open`'s mode applies to a new file only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(document, out, indent=2)
        out.write("\n")


def document_for(issued: store.IssuedCredential, settings: Settings) -> dict[str, str]:
    return domain.credentials_document(
        credential_id=issued.id,
        secret=issued.secret,
        organisation_id=issued.organisation_id,
        partner_id=issued.partner_id,
        expires_at=issued.expires_at,
        nats_url=settings.partner_nats_url or settings.nats_url,
        tls_ca_pem=partner_ca_pem(settings),
    )


def partner_ca_pem(settings: Settings) -> str | None:
    """The CA certificate partners verify NATS with, put into their file as text (a path
    would name a file on intake's machine): `partner_nats_tls_ca_file`, else the services'
    `nats_tls_ca_file`; none when partners reach NATS with a publicly trusted certificate."""
    path = settings.partner_nats_tls_ca_file or settings.nats_tls_ca_file
    return path.read_text() if path is not None else None


async def run(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings, pool_size=1)
    now = SystemClock().now()
    credentials: dict[str, str] | None = None  # issued; written once the issue is committed
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            if args.command == "create":
                partner_id, webhook_secret = await store.create_partner(
                    session,
                    organisation_id=args.organisation,
                    name=args.name,
                    webhook_url=args.webhook_url or "",
                    vault=vault_for(settings.secret_key),
                    require_https=settings.env is Environment.PRODUCTION,
                    allow_private=settings.webhook_allow_private,
                    now=now,
                    actor=None,
                )
                print(json.dumps({"partner_id": str(partner_id), "webhook_secret": webhook_secret}))
            elif args.command == "issue":
                issued = await store.issue_credential(
                    session,
                    organisation_id=args.organisation,
                    partner_id=args.partner,
                    valid_days=(
                        settings.partner_credential_days if args.days is None else args.days
                    ),
                    max_days=settings.partner_credential_days,
                    now=now,
                    actor=None,
                )
                credentials = document_for(issued, settings)
            elif args.command == "list":
                for partner in await store.list_partners(session, args.organisation):
                    print(
                        json.dumps(
                            {
                                "partner_id": str(partner.id),
                                "name": partner.name,
                                "webhook_url": partner.webhook_url,
                                "disabled": partner.disabled_at is not None,
                                "credentials": [
                                    {
                                        "id": str(c.id),
                                        "status": c.status(now),
                                        "expires_at": c.expires_at.isoformat(),
                                    }
                                    for c in partner.credentials
                                ],
                            },
                            ensure_ascii=False,
                        )
                    )
            elif args.command == "revoke":
                if not await store.revoke_credential(
                    session,
                    organisation_id=args.organisation,
                    credential_id=args.credential,
                    now=now,
                    actor=None,
                ):
                    print("credential: no such active credential", file=sys.stderr)
                    return 2
                print(json.dumps({"revoked": str(args.credential)}))
    except domain.PartnerInputError as exc:
        print(f"{exc.field}: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    if credentials is not None:
        show_credentials(credentials, args.out)
    return 0


def show_credentials(document: dict[str, str], out: str | None) -> None:
    """Write the issued credentials to `out` (0600), or print them."""
    if out:
        write_credentials_file(Path(out), document)
        print(json.dumps({"credential_id": document["user"], "file": out}))
    else:
        print(json.dumps(document, indent=2))


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m services.intake.partners")
    commands = main.add_subparsers(dest="command", required=True)
    for name in ("create", "issue", "list", "revoke"):
        sub = commands.add_parser(name)
        sub.add_argument("--organisation", type=UUID, required=True)
        if name == "create":
            sub.add_argument("--name", required=True)
            sub.add_argument("--webhook-url", default="")
        if name == "issue":
            sub.add_argument("--partner", type=UUID, required=True)
            sub.add_argument("--days", type=int)
            sub.add_argument("--out")
        if name == "revoke":
            sub.add_argument("--credential", type=UUID, required=True)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return asyncio.run(run(args, Settings(service="intake")))
