"""The partners command's credentials file: its owner's only, whatever was there before."""

from __future__ import annotations

import json
import os
from pathlib import Path

from services.intake.partners.cli import write_credentials_file

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
