"""The report's figures from plain rows: each definition in services/feedback/report.py."""

from __future__ import annotations

import json
from datetime import date
from uuid import UUID, uuid4

from services.feedback.report import (
    ApplicationRow,
    CycleRow,
    InvitationRow,
    MeetingRow,
    MissedRow,
    OutcomeRow,
    PairRow,
    ParticipantRow,
    Report,
    ReportData,
    ResponseRow,
    build_report,
    build_report_by_year,
)

SPRING = CycleRow(uuid4(), date(2030, 3, 1), date(2030, 10, 31))
AUTUMN = CycleRow(uuid4(), date(2030, 9, 1), date(2031, 4, 30))
NEXT = CycleRow(uuid4(), date(2031, 3, 1), date(2031, 10, 31))
AFTER = date(2031, 12, 1)


def people(n: int) -> list[UUID]:
    return [uuid4() for _ in range(n)]


def test_applicants_are_distinct_people_per_cycle_and_role() -> None:
    a, b, c = people(3)
    data = ReportData(
        cycles=[SPRING, AUTUMN],
        applications=[
            ApplicationRow(SPRING.cycle_id, a, "mentee"),
            ApplicationRow(SPRING.cycle_id, a, "mentee"),  # applied twice: one applicant
            ApplicationRow(AUTUMN.cycle_id, a, "mentee"),  # again next cycle: counts there
            ApplicationRow(SPRING.cycle_id, b, "mentor"),
            ApplicationRow(SPRING.cycle_id, c, "mentee"),
        ],
        participants=[
            ParticipantRow(SPRING.cycle_id, a, "mentee"),
            ParticipantRow(SPRING.cycle_id, b, "mentor"),
            ParticipantRow(SPRING.cycle_id, c, "mentee", withdrawn=True),
        ],
    )
    report = build_report(data, today=AFTER)
    assert report.applicants == {"mentee": 3, "mentor": 1}
    assert report.accepted == {"mentee": 2, "mentor": 1}
    assert report.withdrawn == {"mentee": 1, "mentor": 0}
    assert report.cycles == 2


def test_pairs_completed_running_and_ended_early() -> None:
    pairs = [
        PairRow(uuid4(), SPRING.cycle_id, uuid4()),  # never ended: completed (cycle over)
        PairRow(uuid4(), SPRING.cycle_id, uuid4(), ended_on=date(2030, 10, 31)),  # on the last day
        PairRow(uuid4(), SPRING.cycle_id, uuid4(), ended_on=date(2030, 6, 2)),  # early
        PairRow(uuid4(), NEXT.cycle_id, uuid4()),  # cycle still running
    ]
    report = build_report(ReportData(cycles=[SPRING, NEXT], pairs=pairs), today=date(2031, 5, 1))
    assert report.pairs_formed == 4
    assert (report.pairs_completed, report.pairs_running, report.pairs_ended_early) == (2, 1, 1)
    on_last_day = build_report(ReportData(cycles=[SPRING], pairs=pairs[:1]), today=SPRING.ends_on)
    assert on_last_day.pairs_completed == 1


def test_outcome_distribution_shares_over_mentees_with_an_outcome() -> None:
    mentees = people(7)
    participants = [ParticipantRow(SPRING.cycle_id, p, "mentee") for p in mentees]
    participants.append(ParticipantRow(SPRING.cycle_id, uuid4(), "mentor"))
    participants.append(ParticipantRow(SPRING.cycle_id, uuid4(), "mentee", withdrawn=True))
    given = ["employed_own_field", "employed_own_field", "internship_or_temporary"]
    given += ["confidence_no_change", "further_education"]
    outcomes = [OutcomeRow(SPRING.cycle_id, p, o) for p, o in zip(mentees, given, strict=False)]
    outcomes.append(OutcomeRow(SPRING.cycle_id, mentees[5], None))  # a row, no outcome yet
    report = build_report(
        ReportData(cycles=[SPRING], participants=participants, outcomes=outcomes), today=AFTER
    )
    assert report.mentees == 7
    assert report.with_outcome == 5
    assert report.no_outcome_yet == 2
    assert report.outcome_counts["employed_own_field"] == 2
    assert report.outcome_counts["other"] == 0
    assert report.outcome_shares["employed_own_field"] == 0.4
    assert report.outcome_shares["internship_or_temporary"] == 0.2
    assert sum(report.outcome_counts.values()) == 5
    assert report.outcome_groups == {
        "work_in_own_field": 2,
        "step_forward": 2,
        "confidence": 1,
        "other": 0,
    }


def test_no_outcomes_gives_no_shares_rather_than_zero() -> None:
    report = build_report(ReportData(cycles=[SPRING]), today=AFTER)
    assert report.with_outcome == 0
    assert set(report.outcome_shares.values()) == {None}
    assert report.meetings_per_pair is None and report.months_met_share is None


def test_scores_before_and_after_with_paired_change() -> None:
    a, b, c = people(3)

    def answer(person: UUID, kind: str, **answers: object) -> ResponseRow:
        return ResponseRow(SPRING.cycle_id, person, "mentee", kind, dict(answers))

    responses = [
        answer(a, "baseline", confidence_job_search=2, employment_status="still_seeking"),
        answer(b, "baseline", confidence_job_search=3),
        answer(c, "baseline", confidence_job_search=1),
        answer(a, "end", confidence_job_search=4, support_received=["cv"]),
        answer(b, "end", confidence_job_search=4),
        answer(a, "follow_up", confidence_job_search=5),
        answer(a, "midway", satisfaction_pair=5, confidence_job_search=True),  # bool: not Likert
        answer(b, "midway", satisfaction_pair=9),  # out of range: ignored
    ]
    report = build_report(ReportData(cycles=[SPRING], responses=responses), today=AFTER)
    rows = {(s.role, s.question): s for s in report.scores}
    assert set(rows) == {("mentee", "confidence_job_search"), ("mentee", "satisfaction_pair")}
    confidence = rows[("mentee", "confidence_job_search")]
    assert (confidence.by_kind["baseline"].n, confidence.by_kind["baseline"].mean) == (3, 2.0)
    assert (confidence.by_kind["end"].n, confidence.by_kind["end"].mean) == (2, 4.0)
    assert (confidence.by_kind["follow_up"].n, confidence.by_kind["follow_up"].mean) == (1, 5.0)
    assert confidence.by_kind["midway"].n == 0 and confidence.by_kind["midway"].mean is None
    assert (confidence.change.n, confidence.change.mean) == (2, 1.5)  # a: +2, b: +1
    assert rows[("mentee", "satisfaction_pair")].by_kind["midway"].n == 1


def test_response_rates_per_kind() -> None:
    a, b, c = people(3)
    invitations = [
        InvitationRow(SPRING.cycle_id, a, "baseline", True),
        InvitationRow(SPRING.cycle_id, b, "baseline", True),
        InvitationRow(SPRING.cycle_id, c, "baseline", False),
        InvitationRow(SPRING.cycle_id, a, "end", False),
    ]
    report = build_report(ReportData(cycles=[SPRING], invitations=invitations), today=AFTER)
    rates = {r.kind: r for r in report.response_rates}
    assert (rates["baseline"].invited, rates["baseline"].completed) == (3, 2)
    assert rates["baseline"].rate == 0.6667
    assert rates["end"].rate == 0.0
    assert rates["midway"].invited == 0 and rates["midway"].rate is None
    assert [r.kind for r in report.response_rates] == ["baseline", "midway", "end", "follow_up"]


def test_meeting_regularity() -> None:
    steady, patchy, silent = (PairRow(uuid4(), SPRING.cycle_id, uuid4()) for _ in range(3))
    meetings = [MeetingRow(steady.pair_id, date(2030, m, 10)) for m in range(3, 11)]
    meetings.append(MeetingRow(steady.pair_id, date(2030, 3, 25)))  # two in March
    meetings += [
        MeetingRow(patchy.pair_id, date(2030, 3, 5)),
        MeetingRow(patchy.pair_id, date(2030, 5, 5)),
    ]
    missed = [MissedRow(patchy.pair_id, date(2030, m, 1)) for m in (4, 6, 7)]
    missed.append(MissedRow(patchy.pair_id, date(2030, 5, 1)))  # logged late: May was met
    missed += [MissedRow(silent.pair_id, date(2030, m, 1)) for m in range(3, 11)]
    missed.append(MissedRow(uuid4(), date(2030, 3, 1)))  # a pair outside the report
    report = build_report(
        ReportData(
            cycles=[SPRING], pairs=[steady, patchy, silent], meetings=meetings, missed=missed
        ),
        today=AFTER,
    )
    assert report.meetings_held == 11
    assert report.meetings_per_pair == round(11 / 3, 2)
    assert report.months_met == 8 + 2
    assert report.months_missed == 3 + 8
    assert report.months_met_share == round(10 / 21, 4)
    assert report.pairs_meeting_monthly == 1
    assert report.pairs_meeting_monthly_share == round(1 / 3, 4)


def test_across_years_groups_cycles_by_the_year_they_start() -> None:
    data = ReportData(
        cycles=[SPRING, AUTUMN, NEXT],
        pairs=[
            PairRow(uuid4(), SPRING.cycle_id, uuid4()),
            PairRow(uuid4(), AUTUMN.cycle_id, uuid4()),
            PairRow(uuid4(), NEXT.cycle_id, uuid4()),
        ],
        applications=[ApplicationRow(c.cycle_id, uuid4(), "mentee") for c in (SPRING, NEXT, NEXT)],
    )
    report = build_report_by_year(data, today=AFTER)
    assert list(report.years) == ["2030", "2031"]
    assert report.years["2030"].pairs_formed == 2 and report.years["2030"].cycles == 2
    assert report.years["2031"].applicants["mentee"] == 2
    assert report.pairs_formed == 3


def test_report_round_trips_through_json_shapes() -> None:
    a = uuid4()
    data = ReportData(
        cycles=[SPRING],
        responses=[ResponseRow(SPRING.cycle_id, a, "mentee", "baseline", {"finnish_at_work": 3})],
        outcomes=[OutcomeRow(SPRING.cycle_id, a, "other")],
    )
    report = build_report_by_year(data, today=AFTER)
    shape = json.loads(json.dumps(report.to_dict()))
    assert shape["with_outcome"] == 1 and shape["years"]["2030"]["with_outcome"] == 1
    assert Report.from_dict(shape) == report
