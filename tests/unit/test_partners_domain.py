"""Partners' pure rules: what a partner gets of each event (nothing personal), pseudonyms,
message ids, why a credential is refused, and the checks on what an admin types."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from services.intake.partners import domain
from services.intake.partners.domain import CredentialState, PartnerInputError
from shared import events as ev
from shared import partner_catalogue
from shared import partner_events as pe
from shared.clock import FrozenClock
from shared.envelope import Envelope

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "s3cret-of-the-partner"


def state(**overrides: object) -> CredentialState:
    values: dict[str, object] = {
        "digest": domain.secret_digest(SECRET),
        "expires_at": NOW + timedelta(days=1),
        "revoked_at": None,
        "partner_disabled_at": None,
    }
    values.update(overrides)
    return CredentialState(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("credential", "secret", "reason"),
    [
        (None, SECRET, "unknown_credential"),
        (state(), SECRET + "x", "wrong_secret"),
        (state(), "", "wrong_secret"),
        (state(revoked_at=NOW - timedelta(seconds=1)), SECRET, "revoked"),
        (state(partner_disabled_at=NOW - timedelta(days=2)), SECRET, "partner_disabled"),
        (state(expires_at=NOW), SECRET, "expired"),
        (state(expires_at=NOW - timedelta(days=1)), SECRET, "expired"),
        (state(), SECRET, None),
    ],
)
def test_refusal(credential: CredentialState | None, secret: str, reason: str | None) -> None:
    assert domain.refusal(credential, secret, NOW) == reason


def test_a_wrong_secret_is_refused_before_saying_anything_about_the_credential() -> None:
    """Someone without the secret learns nothing about a revoked or expired credential."""
    revoked = state(revoked_at=NOW, expires_at=NOW - timedelta(days=3))
    assert domain.refusal(revoked, "guess", NOW) == "wrong_secret"


def test_secrets_are_random_and_only_their_digest_is_kept() -> None:
    first, second = domain.new_secret(), domain.new_secret()
    assert first != second and len(first) >= 43  # 256 bits, URL-safe base64
    assert domain.secret_digest(first) != domain.secret_digest(second)
    assert first.encode() not in domain.secret_digest(first)


@pytest.mark.parametrize(
    ("user", "parsed"),
    [
        ("8c0e3b5a-0c1e-4e55-9b7e-2f1f6a4c9d10", UUID("8c0e3b5a-0c1e-4e55-9b7e-2f1f6a4c9d10")),
        (None, None),
        ("", None),
        ("not-a-credential", None),
        ("x" * 65, None),
    ],
)
def test_parse_credential_id(user: str | None, parsed: UUID | None) -> None:
    assert domain.parse_credential_id(user) == parsed


def test_pseudonyms_are_stable_per_partner_and_differ_between_partners() -> None:
    pair = uuid4()
    ours = domain.pseudonymiser("installation-secret", uuid4())
    theirs = domain.pseudonymiser("installation-secret", uuid4())
    assert ours(pair) == ours(pair) != pair
    assert theirs(pair) != ours(pair)
    other_installation = domain.pseudonymiser("another-secret", uuid4())
    assert other_installation(pair) != ours(pair)


def test_message_id_is_the_same_for_a_redelivery_and_differs_per_partner() -> None:
    event_id, partner, other = uuid4(), uuid4(), uuid4()
    assert domain.message_id(event_id, partner) == domain.message_id(event_id, partner)
    assert domain.message_id(event_id, partner) != domain.message_id(event_id, other)
    assert domain.message_id(event_id, partner) != domain.message_id(uuid4(), partner)


PERSONAL = {"person_id", "mentee_id", "mentor_id", "application_id", "pair_id", "meeting_id"}


def source_events() -> list[ev.Event]:
    cycle, pair = uuid4(), uuid4()
    return [
        ev.CycleOpened(
            cycle_id=cycle,
            programme_id=uuid4(),
            applications_open=date(2027, 1, 1),
            applications_close=date(2027, 1, 31),
            starts_on=date(2027, 3, 1),
            ends_on=date(2027, 10, 31),
        ),
        ev.CycleClosed(cycle_id=cycle),
        ev.PairFormed(
            pair_id=pair, cycle_id=cycle, mentee_id=uuid4(), mentor_id=uuid4(), score=0.8
        ),
        ev.PairEnded(pair_id=pair, cycle_id=cycle, reason_code="mentee_moved_away"),
        ev.MeetingHeld(
            meeting_id=uuid4(),
            pair_id=pair,
            cycle_id=cycle,
            held_on=date(2027, 4, 17),
            minutes=90,
            mode=ev.MeetingMode.IN_PERSON,
            topic_codes=("cv", "interview_practice"),
        ),
        ev.OutcomeRecorded(
            person_id=uuid4(),
            cycle_id=cycle,
            outcome=ev.Outcome.EMPLOYED_OWN_FIELD,
            source="survey",
            recorded_at=NOW,
        ),
    ]


@pytest.mark.parametrize("event", source_events(), ids=lambda e: e.type_name())
def test_a_partner_event_carries_nothing_that_names_or_singles_out_a_person(
    event: ev.Event,
) -> None:
    pseudonym = domain.pseudonymiser("installation-secret", uuid4())
    shared = domain.partner_event(event, pseudonym, applications=(40, 45))
    assert shared is not None and type(shared) in pe.PARTNER_EVENTS.values()
    body = shared.model_dump(mode="json")
    assert not PERSONAL & set(body)
    text = json.dumps(body)
    source = event.model_dump(mode="json")
    for key in ("person_id", "mentee_id", "mentor_id", "pair_id", "meeting_id"):
        if key in source:
            assert source[key] not in text, f"{key} leaked"
    for key in ("reason_code", "topic_codes", "score", "source", "recorded_at"):
        assert key not in body
    if isinstance(event, ev.MeetingHeld):
        assert body["month"] == "2027-04" and "2027-04-17" not in text
    if "pair" in body:
        assert body["pair"] == str(pseudonym(event.pair_id))  # type: ignore[attr-defined]
    if isinstance(event, ev.CycleClosed):
        assert (body["mentee_applications"], body["mentor_applications"]) == (40, 45)


# 01:30 in Helsinki on 1 May is 22:30 UTC on 30 April: the coarse times are UTC's.
SOURCE_TIME = datetime(2027, 5, 1, 1, 30, 17, 123000, tzinfo=timezone(timedelta(hours=3)))
PARTNER_TIMES = {
    "meeting_held": "2027-04-01T00:00:00Z",
    "outcome_recorded": "2027-04-30T00:00:00Z",
}
"""What the partner's copy says for `time`; any other event keeps the source's exact time."""


@pytest.mark.parametrize("event", source_events(), ids=lambda e: e.type_name())
def test_a_partners_envelope_is_its_copy_with_a_time_no_finer_than_its_data(
    event: ev.Event,
) -> None:
    organisation, partner = uuid4(), uuid4()
    source = Envelope.wrap(event, organisation_id=organisation, clock=FrozenClock(SOURCE_TIME))
    pseudonym = domain.pseudonymiser("installation-secret", partner)
    copy = domain.partner_envelope(event, source, partner, pseudonym, applications=(40, 45))
    shared = domain.partner_event(event, pseudonym, applications=(40, 45))
    assert copy is not None and shared is not None
    name = shared.event_name()
    assert copy.model_dump(mode="json") == {
        "specversion": "1.0",
        "id": str(domain.message_id(source.id, partner)),
        "source": "/womento/partner-feed",
        "type": f"womento.partner.{name}.v1",
        "time": PARTNER_TIMES.get(name, "2027-04-30T22:30:17.123000Z"),
        "datacontenttype": "application/json",
        "organisationid": str(organisation),
        "partnerid": str(partner),
        "data": shared.model_dump(mode="json"),
    }


@pytest.mark.parametrize("event", source_events(), ids=lambda e: e.type_name())
def test_a_coarse_time_is_taken_in_utc_whatever_the_source_offset(event: ev.Event) -> None:
    shared = domain.partner_event(event, domain.pseudonymiser("k", uuid4()))
    assert shared is not None
    time = domain.partner_time(shared, SOURCE_TIME)
    if shared.event_name() in PARTNER_TIMES:
        assert time.isoformat() == PARTNER_TIMES[shared.event_name()].replace("Z", "+00:00")
    else:
        assert time == SOURCE_TIME


@pytest.mark.parametrize("cls", list(pe.PARTNER_EVENTS.values()), ids=lambda c: c.event_name())
def test_the_documented_examples_have_times_as_coarse_as_the_feed_makes_them(
    cls: type[pe.PartnerEvent],
) -> None:
    example = pe.PartnerEnvelope.model_validate(partner_catalogue.example_envelope(cls))
    assert domain.partner_time(example.open(), example.time) == example.time


def test_an_event_partners_do_not_get_has_no_envelope() -> None:
    received = ev.ApplicationReceived(
        application_id=uuid4(),
        person_id=uuid4(),
        cycle_id=uuid4(),
        role=ev.Role.MENTEE,
        submitted_at=NOW,
    )
    source = Envelope.wrap(received, organisation_id=uuid4(), clock=FrozenClock(NOW))
    pseudonym = domain.pseudonymiser("k", uuid4())
    assert domain.partner_envelope(received, source, uuid4(), pseudonym) is None


def test_every_fed_event_has_a_partner_event_and_the_rest_have_none() -> None:
    assert {type(e) for e in source_events()} == set(domain.FED_EVENTS)
    received = ev.ApplicationReceived(
        application_id=uuid4(),
        person_id=uuid4(),
        cycle_id=uuid4(),
        role=ev.Role.MENTEE,
        submitted_at=NOW,
    )
    assert domain.partner_event(received, domain.pseudonymiser("k", uuid4())) is None


@pytest.mark.parametrize(
    ("name", "code"),
    [("", "required"), ("   ", "required"), ("x" * 121, "too_long"), ("bad\x00name", "invalid")],
)
def test_a_bad_name_names_the_field(name: str, code: str) -> None:
    with pytest.raises(PartnerInputError) as refused:
        domain.check_name(name)
    assert (refused.value.field, refused.value.code) == ("name", code)


def test_a_name_is_kept_with_its_spaces_tidied() -> None:
    assert domain.check_name("  TE-palvelut   Uusimaa ") == "TE-palvelut Uusimaa"


@pytest.mark.parametrize(
    ("url", "https", "private", "code"),
    [
        ("ftp://example.org/hook", False, False, "invalid"),
        ("example.org/hook", False, False, "invalid"),
        ("https://", False, False, "invalid"),
        ("http://example.org/hook", True, False, "https_required"),
        ("https://user:pw@example.org/hook", False, False, "credentials_in_url"),
        ("https://10.0.0.5/hook", False, False, "private_address"),
        ("https://127.0.0.1/hook", False, False, "private_address"),
        ("https://[::1]/hook", False, False, "private_address"),
        ("https://169.254.169.254/latest/meta-data", False, False, "private_address"),
        ("https://localhost/hook", False, False, "private_address"),
        ("https://db.internal/hook", False, False, "private_address"),
        ("https://localhost./hook", False, False, "private_address"),
        ("https://10.0.0.5./hook", False, False, "private_address"),
        ("https://[::ffff:10.0.0.5]/hook", False, False, "private_address"),
        ("https://[2002:a00:5::1]/hook", False, False, "private_address"),  # 6to4
        ("https://[64:ff9b::a00:5]/hook", False, False, "private_address"),  # NAT64
        ("https://[64:ff9b::7f00:1]/hook", False, False, "private_address"),
        ("https://127.1/hook", False, False, "private_address"),  # shorthand
        ("https://2130706433/hook", False, False, "private_address"),  # decimal
        ("https://0x7f.1/hook", False, False, "private_address"),  # hex
        ("https://0177.0.0.1/hook", False, False, "private_address"),  # octal
        ("https://10.5/hook", False, False, "private_address"),
        ("https://0/hook", False, False, "private_address"),
        ("https://example.org/" + "a" * 600, False, False, "too_long"),
    ],
)
def test_a_bad_webhook_address_names_the_field(
    url: str, https: bool, private: bool, code: str
) -> None:
    with pytest.raises(PartnerInputError) as refused:
        domain.check_webhook_url(url, require_https=https, allow_private=private)
    assert (refused.value.field, refused.value.code) == ("webhook_url", code)


def test_good_webhook_addresses() -> None:
    check = domain.check_webhook_url
    assert check("", require_https=True, allow_private=False) is None
    assert check(" https://hooks.example.org/w ", require_https=True, allow_private=False) == (
        "https://hooks.example.org/w"
    )
    # Public addresses in any form a resolver reads stay allowed.
    assert check("https://[64:ff9b::5db8:d822]/w", require_https=True, allow_private=False)
    assert check("https://93.184.216.34/w", require_https=True, allow_private=False)
    assert check("https://1572395042/w", require_https=True, allow_private=False)
    # Development and tests may point at a local receiver.
    assert check("http://127.0.0.1:9/h", require_https=False, allow_private=True)
