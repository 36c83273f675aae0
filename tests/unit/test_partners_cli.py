"""The partners command's credentials file: its owner's only, whatever was there before."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from services.intake.partners.cli import document_for, write_credentials_file
from services.intake.partners.store import IssuedCredential
from shared.settings import Settings

DOCUMENT = {"user": "8c0e3b5a-0c1e-4e55-9b7e-2f1f6a4c9d10", "password": "s3cret"}


def test_a_new_credentials_file_is_0600(tmp_path: Path) -> None:
    path = tmp_path / "partners" / "demo.json"
    write_credentials_file(path, DOCUMENT)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert json.loads(path.read_text()) == DOCUMENT


def test_overwriting_a_readable_file_leaves_it_0600_with_only_the_new_document(
    tmp_path: Path,
) -> None:
    path = tmp_path / "demo.json"
    path.write_text(json.dumps({"user": "old", "password": "a much longer old secret" * 4}))
    os.chmod(path, 0o644)
    write_credentials_file(path, DOCUMENT)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert json.loads(path.read_text()) == DOCUMENT


def issued() -> IssuedCredential:
    return IssuedCredential(
        id=uuid4(),
        partner_id=uuid4(),
        organisation_id=uuid4(),
        secret="s3cret",
        expires_at=datetime(2028, 1, 1, tzinfo=UTC),
    )


def test_the_file_carries_the_partners_ca_certificate_itself_not_a_path(tmp_path: Path) -> None:
    """A path would name a file on intake's machine, which the partner does not have."""
    services_ca, partners_ca = tmp_path / "services-ca.pem", tmp_path / "partners-ca.pem"
    services_ca.write_text("-----BEGIN CERTIFICATE-----\nservices\n-----END CERTIFICATE-----\n")
    partners_ca.write_text("-----BEGIN CERTIFICATE-----\npartners\n-----END CERTIFICATE-----\n")
    base = {"NATS_URL": "tls://nats:4222", "nats_tls_ca_file": services_ca}

    document = document_for(issued(), Settings(**base))  # type: ignore[arg-type]
    assert document["tls_ca_pem"] == services_ca.read_text()
    assert str(services_ca) not in json.dumps(document)

    own = Settings(
        **base,
        partner_nats_url="tls://bus.example.org:4222",
        partner_nats_tls_ca_file=partners_ca,
    )
    document = document_for(issued(), own)
    assert document["nats_url"] == "tls://bus.example.org:4222"
    assert document["tls_ca_pem"] == partners_ca.read_text()

    assert "tls_ca_pem" not in document_for(issued(), Settings(NATS_URL="nats://nats:4222"))
