"""Survey links: signed for one person and invitation, under their own purpose key."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from services.intake.portal import (
    ExpiredLink,
    ForgedLink,
    RevokedLink,
    check_generation,
    make_link,
    make_survey_link,
    read_portal_link,
    read_survey_link,
)
from services.intake.surveys import link_expiry, survey_url
from shared.events import SurveyInvitationDue, SurveyKind

SECRET = "unit-test-secret"
NOW = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)


def test_a_survey_link_reads_back_as_its_person_and_invitation() -> None:
    person, invitation = uuid4(), uuid4()
    token = make_survey_link(SECRET, person, invitation, NOW + timedelta(days=50))
    link = read_survey_link(SECRET, token, NOW)
    assert (link.person_id, link.invitation_id) == (person, invitation)
    assert "/" not in token and "=" not in token


def test_survey_and_portal_tokens_do_not_stand_in_for_each_other() -> None:
    person, other = uuid4(), uuid4()
    survey = make_survey_link(SECRET, person, other, NOW + timedelta(days=5))
    portal = make_link(SECRET, person, other, NOW + timedelta(days=5), cycle_id=uuid4())
    with pytest.raises(ForgedLink):
        read_portal_link(SECRET, survey, NOW)
    with pytest.raises(ForgedLink):
        read_survey_link(SECRET, portal, NOW)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),
        lambda t: "x" + t,
        lambda t: t.replace(".", ""),
        lambda t: "",
        lambda t: t + "." + t,
    ],
)
def test_forged_survey_links_are_refused(tamper) -> None:
    token = make_survey_link(SECRET, uuid4(), uuid4(), NOW + timedelta(days=5))
    with pytest.raises(ForgedLink):
        read_survey_link(SECRET, tamper(token), NOW)
    with pytest.raises(ForgedLink):
        read_survey_link("another-secret", token, NOW)


def test_an_expired_survey_link_is_refused() -> None:
    token = make_survey_link(SECRET, uuid4(), uuid4(), NOW + timedelta(days=1))
    with pytest.raises(ExpiredLink):
        read_survey_link(SECRET, token, NOW + timedelta(days=1))


def test_the_mailed_link_outlives_the_survey_by_the_grace_period() -> None:
    event = SurveyInvitationDue(
        invitation_id=uuid4(),
        survey_id=uuid4(),
        person_id=uuid4(),
        cycle_id=uuid4(),
        kind=SurveyKind.BASELINE,
        closes_on=date(2031, 3, 21),
    )
    url = survey_url(SECRET, "https://womento.example/", event)
    assert url.startswith("https://womento.example/survey/")
    link = read_survey_link(SECRET, url.rsplit("/", 1)[1], NOW)
    assert (link.person_id, link.invitation_id) == (event.person_id, event.invitation_id)
    assert link.expires_at == link_expiry(event).replace(microsecond=0)
    assert link_expiry(event).date() == date(2031, 4, 20)


def test_the_mailed_link_carries_her_link_generation() -> None:
    event = SurveyInvitationDue(
        invitation_id=uuid4(),
        survey_id=uuid4(),
        person_id=uuid4(),
        cycle_id=uuid4(),
        kind=SurveyKind.MIDWAY,
        closes_on=date(2031, 3, 21),
    )
    old = read_survey_link(
        SECRET, survey_url(SECRET, "https://w.example", event).rsplit("/")[-1], NOW
    )
    new_url = survey_url(SECRET, "https://w.example", event, generation=2)
    new = read_survey_link(SECRET, new_url.rsplit("/", 1)[1], NOW)
    assert (old.generation, new.generation) == (0, 2)
    check_generation(new.generation, 2)
    with pytest.raises(RevokedLink):
        check_generation(old.generation, 2)
