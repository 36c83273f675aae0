"""Consent, the pure part: the purposes, what withdrawing each one does, and her details
and screening codes without what her background consent allowed us to ask.

A consent is given once per purpose (the application form) and withdrawn at most once (her
portal). Withdrawing `rollover` only stops her waitlisted application moving to the next
round; withdrawing `background` also removes her answers about immigrant background and
country of origin and the screening codes derived from them; withdrawing `processing`
erases her (`services.intake.erasure`, reason `consent_withdrawn`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Purpose(StrEnum):
    PROCESSING = "processing"
    """Handling her application at all (required): withdrawn, she is erased."""
    BACKGROUND = "background"
    """Being asked about immigrant background and country of origin (special-category)."""
    ROLLOVER = "rollover"
    """A waitlisted application moves to the next round."""


BACKGROUND_FIELDS = ("background",)
"""Her details (`intake.people.details`) given only with the background consent."""
BACKGROUND_CODES = frozenset({"not_in_target_group_background"})
"""Sealed screening codes derived from her background answers (`domain.SEALED_CODES`)."""


class WithdrawalRefused(Exception):
    """`reason`: `unknown_purpose`, `not_given` or `already_withdrawn`."""

    def __init__(self, reason: str, purpose: str, withdrawn_at: datetime | None = None) -> None:
        super().__init__(f"{reason}: {purpose}")
        self.reason, self.purpose, self.withdrawn_at = reason, purpose, withdrawn_at


@dataclass(frozen=True)
class Given:
    """One consent as recorded: the version and language of the text she was shown."""

    purpose: str
    version: str
    language: str
    given_at: datetime
    withdrawn_at: datetime | None
    text: str

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None


def purpose_of(code: str) -> Purpose:
    try:
        return Purpose(code)
    except ValueError:
        raise WithdrawalRefused("unknown_purpose", code) from None


def check_withdrawal(code: str, consents: Iterable[Given]) -> Purpose:
    """The purpose she may withdraw now, or `WithdrawalRefused` saying why not."""
    purpose = purpose_of(code)
    hers = [c for c in consents if c.purpose == purpose.value]
    if not hers:
        raise WithdrawalRefused("not_given", purpose.value)
    open_ones = [c for c in hers if not c.withdrawn]
    if not open_ones:
        raise WithdrawalRefused("already_withdrawn", purpose.value, hers[-1].withdrawn_at)
    return purpose


def without_background(details: dict[str, Any]) -> dict[str, Any]:
    """Her details as if she had not consented to being asked (`background` is None)."""
    return {**details, **dict.fromkeys(BACKGROUND_FIELDS)}


def without_background_codes(codes: Iterable[str]) -> list[str]:
    return [code for code in codes if code not in BACKGROUND_CODES]


def shown_text(label: str, hint: str | None = None) -> str:
    """The consent text as the form shows it: the checkbox's label, then its hint."""
    return f"{label}\n{hint}" if hint else label
