"""Consent texts: the exact text of each consent, per purpose, version and language, as the
application form showed it; every recorded consent points at the text she was shown.

- `consent_texts` is created and filled with the texts published so far. Version 2026-11
  is what the form showed until now: Finnish and English, and for Swedish pages the English
  text (the Swedish catalogue had no consent texts, so the form fell back to English).
  Version 2026-12 adds the Swedish texts; the Finnish and English ones are unchanged.
- `consents (purpose, version, language)` gets a foreign key to it: every existing consent
  was recorded as 2026-11 in fi, en or sv.
- A new wording is a new version: a later migration inserts its rows (never updates these)
  and `schemas.CONSENT_VERSION` names it; `tests/unit/test_consent.py` checks that the
  form's texts are the current version's.

See docs/privacy.md ("Consent").

Revision ID: 0013_consents
Revises: 0004 (which creates `consents`; the migrations branch per feature from 0001)
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0013_consents"
down_revision = "0004"
SCHEMA = "intake"

FI = {
    "processing": "Annan suostumukseni hakemukseni tietojen käsittelyyn mentorointiohjelmassa.\n"
    "Tietojasi käsittelevät vain ohjelman koordinaattorit. Voit perua suostumuksen milloin "
    "tahansa, jolloin tietosi poistetaan.",
    "background": "Annan suostumukseni siihen, että minulta kysytään maahanmuuttajataustasta "
    "ja lähtömaasta.\nVapaaehtoinen. Ilman suostumusta emme kysy näitä tietoja, ja "
    "koordinaattori arvioi kohderyhmään kuulumisen muuten.",
    "rollover": "Jos pääsen varasijalle, hakemukseni saa siirtää seuraavaan hakuun.",
}
EN = {
    "processing": "I consent to my application's data being processed in the mentoring "
    "programme.\nOnly the programme's coordinators handle your data. You can withdraw your "
    "consent at any time, and your data will be deleted.",
    "background": "I consent to being asked about my immigrant background and country of "
    "origin.\nOptional. Without this consent we do not ask, and the coordinator assesses the "
    "target group otherwise.",
    "rollover": "If I am put on the waiting list, my application may move to the next "
    "application round.",
}
SV = {
    "processing": "Jag samtycker till att uppgifterna i min ansökan behandlas i "
    "mentorprogrammet.\nEndast programmets koordinatorer behandlar dina uppgifter. Du kan när "
    "som helst återkalla ditt samtycke, och då raderas dina uppgifter.",
    "background": "Jag samtycker till att bli tillfrågad om min invandrarbakgrund och mitt "
    "ursprungsland.\nFrivilligt. Utan detta samtycke frågar vi inte, och koordinatorn bedömer "
    "på annat sätt om du hör till målgruppen.",
    "rollover": "Om jag hamnar på väntelistan får min ansökan flyttas till nästa ansökningsomgång.",
}
VERSIONS = {
    "2026-11": (datetime(2026, 11, 1, tzinfo=UTC), {"fi": FI, "en": EN, "sv": EN}),
    "2026-12": (datetime(2026, 12, 1, tzinfo=UTC), {"fi": FI, "en": EN, "sv": SV}),
}
TEXTS = {
    (purpose, version, language): text
    for version, (_, languages) in VERSIONS.items()
    for language, texts in languages.items()
    for purpose, text in texts.items()
}
"""(purpose, version, language) -> the text, as published; read by the drift test."""


def upgrade() -> None:
    texts = op.create_table(
        "consent_texts",
        sa.Column("purpose", sa.Text, primary_key=True),
        sa.Column("version", sa.Text, primary_key=True),
        sa.Column("language", sa.Text, primary_key=True),
        sa.Column("text", sa.Text, nullable=False, comment="exactly as the form showed it"),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        comment="consent texts per purpose, version and language; never updated (migration 0013)",
        schema=SCHEMA,
    )
    assert texts is not None
    op.bulk_insert(
        texts,
        [
            {
                "purpose": purpose,
                "version": version,
                "language": language,
                "text": text,
                "published_at": VERSIONS[version][0],
            }
            for (purpose, version, language), text in TEXTS.items()
        ],
    )
    op.create_foreign_key(
        "consents_text_fkey",
        "consents",
        "consent_texts",
        ["purpose", "version", "language"],
        ["purpose", "version", "language"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_constraint("consents_text_fkey", "consents", schema=SCHEMA, type_="foreignkey")
    op.drop_table("consent_texts", schema=SCHEMA)
