"""A known cohort for the chart and export tests: 10 mentees with known answers."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

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

CYCLE = CycleRow(uuid4(), date(2030, 3, 1), date(2030, 10, 31))
TODAY = date(2031, 6, 1)
OUTCOMES = (
    ["employed_own_field"] * 3
    + ["internship_or_temporary", "further_education", "employed_other_field"]
    + ["confidence_no_change"] * 3
    + [None]
)
BASELINE = [2, 2, 3, 1, 2, 3, 2, 2, 1, 3]
END = [4, 5, 4, 3, 3, 4, 4, 3, 3, None]


def sample_data(cycle: CycleRow = CYCLE) -> ReportData:
    mentees = [uuid4() for _ in range(10)]
    mentors = [uuid4() for _ in range(10)]
    pairs = [PairRow(uuid4(), cycle.cycle_id, m) for m in mentees]
    pairs[9] = PairRow(pairs[9].pair_id, cycle.cycle_id, mentees[9], date(2030, 5, 1))
    responses, invitations = [], []
    for i, person in enumerate(mentees):
        responses.append(
            ResponseRow(
                cycle.cycle_id,
                person,
                "mentee",
                "baseline",
                {"confidence_job_search": BASELINE[i], "employment_status": "still_seeking"},
            )
        )
        invitations.append(InvitationRow(cycle.cycle_id, person, "baseline", True))
        invitations.append(InvitationRow(cycle.cycle_id, person, "end", END[i] is not None))
        if END[i] is not None:
            responses.append(
                ResponseRow(
                    cycle.cycle_id,
                    person,
                    "mentee",
                    "end",
                    {"confidence_job_search": END[i], "employment_status": "employed_own_field"},
                )
            )
    meetings = [MeetingRow(p.pair_id, date(2030, m, 12)) for p in pairs[:8] for m in range(3, 11)]
    missed = [MissedRow(p.pair_id, date(2030, m, 1)) for p in pairs[8:] for m in range(3, 11)]
    return ReportData(
        cycles=[cycle],
        applications=[ApplicationRow(cycle.cycle_id, uuid4(), "mentee") for _ in range(25)]
        + [ApplicationRow(cycle.cycle_id, uuid4(), "mentor") for _ in range(12)],
        participants=[ParticipantRow(cycle.cycle_id, p, "mentee") for p in mentees]
        + [ParticipantRow(cycle.cycle_id, p, "mentor") for p in mentors],
        pairs=pairs,
        invitations=invitations,
        responses=responses,
        outcomes=[OutcomeRow(cycle.cycle_id, p, o) for p, o in zip(mentees, OUTCOMES, strict=True)],
        meetings=meetings,
        missed=missed,
    )


def sample_report() -> Report:
    return build_report(sample_data(), today=TODAY)


def test_the_sample_has_the_figures_the_other_tests_expect() -> None:
    report = sample_report()
    assert report.applicants == {"mentee": 25, "mentor": 12}
    assert report.pairs_formed == 10 and report.pairs_completed == 9
    assert report.outcome_counts["employed_own_field"] == 3
    assert report.with_outcome == 9 and report.no_outcome_yet == 1
    confidence = report.scores[0]
    assert confidence.by_kind["baseline"].mean == 2.1 and confidence.by_kind["end"].n == 9
    assert build_report_by_year(sample_data(), today=TODAY).years["2030"].pairs_formed == 10
