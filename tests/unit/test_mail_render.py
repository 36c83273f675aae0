"""Mail rendering without a database: every template in every language, escaping, context."""

from __future__ import annotations

import json

import pytest

from services.intake.mail import TEMPLATES, MailRenderError, format_date, render_mail
from services.intake.mail.render import TEMPLATE_DIR
from services.intake.web.i18n import LANGUAGES, LOCALES, text

RECIPIENT = {"given_name": "Ann", "family_name": "Lee", "email": "ann.lee@example.org"}
CONTEXT = {"cycle_name": "Spring 2027", "application_id": "0f4b1f8e-6f1e-4a55-9d0c-4e7d7b7f0e01"}

GREETING = {"fi": "Hei Ann,", "en": "Hello Ann,", "sv": "Hej Ann,"}
# A phrase of each template's own body, per language: proves the body is that template's,
# written in that language.
BODY = {
    ("application_received", "fi"): "Mitä seuraavaksi?",
    ("application_received", "en"): "What happens next?",
    ("application_received", "sv"): "Vad händer nu?",
    ("decision_accepted", "fi"): "sinut on valittu mukaan mentorointiin",
    ("decision_accepted", "en"): "you have been accepted to the mentoring programme",
    ("decision_accepted", "sv"): "du har blivit antagen",
    ("decision_waitlisted", "fi"): "hakemuksesi on nyt varasijalla",
    ("decision_waitlisted", "en"): "you are now on our waiting list",
    ("decision_waitlisted", "sv"): "du står nu på vår väntelista",
    ("decision_rejected", "fi"): "emmekä valitettavasti voi tarjota sinulle paikkaa",
    ("decision_rejected", "en"): "unfortunately we cannot offer you a place",
    ("decision_rejected", "sv"): "kan tyvärr inte erbjuda dig en plats",
    ("decision_ineligible", "fi"): "ei täytä ohjelman hakukriteerejä",
    ("decision_ineligible", "en"): "does not meet the programme's criteria",
    ("decision_ineligible", "sv"): "uppfyller den inte programmets kriterier",
    ("meeting_link", "fi"): "Salasanaa ei tarvita",
    ("meeting_link", "en"): "No password is needed",
    ("meeting_link", "sv"): "Inget lösenord behövs",
    ("event_reminder", "fi"): "Jos et pääse paikalle",
    ("event_reminder", "en"): "If you cannot come",
    ("event_reminder", "sv"): "Om du inte kan komma",
    ("event_changed", "fi"): "muutos näkyy myös siinä",
    ("event_changed", "en"): "it shows the change too",
    ("event_changed", "sv"): "syns ändringen också där",
    ("survey_invitation", "fi"): "Vastaaminen vie noin viisi minuuttia",
    ("survey_invitation", "en"): "It takes about five minutes",
    ("survey_invitation", "sv"): "Det tar ungefär fem minuter",
    ("survey_reminder", "fi"): "Emme ole vielä saaneet vastaustasi",
    ("survey_reminder", "en"): "We have not received your answers yet",
    ("survey_reminder", "sv"): "Vi har ännu inte fått dina svar",
}
SUBJECT_START = {
    ("application_received", "fi"): "Kiitos hakemuksestasi",
    ("application_received", "en"): "Thank you for your application",
    ("decision_accepted", "fi"): "Tervetuloa mukaan",
    ("decision_accepted", "en"): "Welcome to the mentoring programme",
    ("decision_waitlisted", "fi"): "Hakemuksesi on varasijalla",
    ("decision_waitlisted", "en"): "You are on our waiting list",
    ("decision_rejected", "fi"): "Päätös hakemuksestasi",
    ("decision_rejected", "en"): "About your application",
    ("decision_ineligible", "fi"): "Hakemuksesi käsittely",
    ("decision_ineligible", "en"): "Your application",
}


def other_languages(lang: str) -> list[str]:
    return [other for other in LANGUAGES if other != lang]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_renders_in_the_language_asked(template: str, lang: str) -> None:
    mail = render_mail(template, lang, RECIPIENT, CONTEXT)

    assert mail.subject == text(f"mail.{template}.subject", lang, cycle_name="Spring 2027")
    assert "Spring 2027" in mail.subject
    if (template, lang) in SUBJECT_START:
        assert mail.subject.startswith(SUBJECT_START[template, lang])
    for body in (mail.text, mail.html):
        assert GREETING[lang] in body
        assert BODY[template, lang] in body
        assert "Spring 2027" in body
        for other in other_languages(lang):
            assert GREETING[other] not in body
            assert BODY[template, other] not in body
    for part in (mail.subject, mail.text, mail.html):
        assert "[" not in part, "a missing catalogue key shows as [key]"
        assert "{" not in part and "}" not in part, "an unfilled placeholder"
    assert mail.html.lstrip().startswith("<!doctype html>")
    assert f'<html lang="{lang}">' in mail.html
    assert "<" not in mail.text


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("lang", ["fi", "en"])
def test_subjects_differ_between_finnish_and_english(template: str, lang: str) -> None:
    mine = render_mail(template, lang, RECIPIENT, CONTEXT).subject
    other = render_mail(template, "en" if lang == "fi" else "fi", RECIPIENT, CONTEXT).subject
    assert mine != other


@pytest.mark.parametrize("template", TEMPLATES)
def test_html_escapes_the_name_and_the_text_keeps_it(template: str) -> None:
    recipient = RECIPIENT | {"given_name": "<b>Ann</b>"}
    context = CONTEXT | {"cycle_name": 'Spring <script>alert("x")</script>'}

    mail = render_mail(template, "en", recipient, context)

    assert "Hello &lt;b&gt;Ann&lt;/b&gt;," in mail.html
    assert "<b>Ann</b>" not in mail.html
    assert "<script>" not in mail.html
    assert "&lt;script&gt;" in mail.html
    assert "Hello <b>Ann</b>," in mail.text


def test_waitlisted_mentions_rolling_over_only_when_it_does() -> None:
    rolls = render_mail(
        "decision_waitlisted",
        "en",
        RECIPIENT,
        CONTEXT | {"rolls_over": True, "next_cycle_name": "Autumn 2027"},
    )
    stays = render_mail("decision_waitlisted", "en", RECIPIENT, CONTEXT | {"rolls_over": False})
    finnish = render_mail("decision_waitlisted", "fi", RECIPIENT, CONTEXT | {"rolls_over": True})

    assert "roll over to the next cycle (Autumn 2027)" in rolls.text
    assert "roll over to the next cycle (Autumn 2027)" in rolls.html
    assert "roll over" not in stays.text and "roll over" not in stays.html
    assert "If a place becomes free" in stays.text
    assert "siirtyy seuraavalle mentorointijaksolle" in finnish.text


def test_optional_context_appears_with_dates_in_the_language_s_format() -> None:
    fi = render_mail(
        "application_received",
        "fi",
        RECIPIENT,
        CONTEXT | {"applications_close": "2027-08-31", "programme_name": "Womento"},
    )
    en = render_mail("decision_accepted", "en", RECIPIENT, CONTEXT | {"starts_on": "2027-09-01"})
    sv = render_mail("decision_accepted", "sv", RECIPIENT, CONTEXT | {"starts_on": "2027-09-01"})

    assert "Hakuaika päättyy 31.8.2027." in fi.text
    assert "Ohjelma: Womento" in fi.text
    assert "The cycle starts on 1 September 2027." in en.text
    assert "Omgången börjar den 1 september 2027." in sv.text
    assert format_date("2027-01-05", "fi") == "5.1.2027"


def test_mentor_gets_her_own_wording() -> None:
    mentor = render_mail("application_received", "en", RECIPIENT, CONTEXT | {"role": "mentor"})
    mentee = render_mail("application_received", "en", RECIPIENT, CONTEXT | {"role": "mentee"})
    assert "volunteer as a mentor" in mentor.text
    assert "volunteer as a mentor" not in mentee.text


def test_ineligible_names_a_known_reason_and_skips_an_unknown_one() -> None:
    known = render_mail("decision_ineligible", "fi", RECIPIENT, CONTEXT | {"reason": "language"})
    unknown = render_mail("decision_ineligible", "fi", RECIPIENT, CONTEXT | {"reason": "zz_new"})
    assert text("mail.ineligible.reason.language", "fi") in known.text
    assert "zz_new" not in unknown.text and "[" not in unknown.text


def test_unknown_language_falls_back_to_finnish() -> None:
    mail = render_mail("decision_rejected", "de", RECIPIENT, CONTEXT)
    assert GREETING["fi"] in mail.text


@pytest.mark.parametrize(
    ("template", "recipient", "context"),
    [
        ("no_such_template", RECIPIENT, CONTEXT),
        ("decision_accepted", RECIPIENT, {"application_id": "x"}),
        ("decision_accepted", RECIPIENT | {"given_name": " "}, CONTEXT),
        ("decision_accepted", RECIPIENT, CONTEXT | {"starts_on": "not a date"}),
    ],
)
def test_what_cannot_be_rendered_is_refused(template, recipient, context) -> None:
    with pytest.raises(MailRenderError):
        render_mail(template, "en", recipient, context)


def test_every_template_exists_in_text_and_html_for_every_language() -> None:
    for template in TEMPLATES:
        for lang in LANGUAGES:
            for ext in ("txt", "html"):
                assert (TEMPLATE_DIR / f"{template}.{lang}.{ext}").is_file()


def test_mail_catalogues_have_the_same_keys_in_every_language() -> None:
    keys = {
        lang: set(json.loads((LOCALES / lang / "mail.json").read_text(encoding="utf-8")))
        for lang in LANGUAGES
    }
    assert keys["fi"] == keys["en"] == keys["sv"]
    assert all(key.startswith("mail.") for key in keys["fi"])
    for template in TEMPLATES:
        assert f"mail.{template}.subject" in keys["fi"]
