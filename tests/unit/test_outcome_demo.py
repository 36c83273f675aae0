"""The demo's past cycle (services/feedback/demo.py): answers drawn per planned outcome give
that outcome by the real rule, in Womento's proportions."""

from __future__ import annotations

import random
from collections import Counter
from uuid import uuid4

import pytest

from services.feedback.demo import mentee_story, shares
from services.feedback.outcomes import Answers, derive_outcome
from shared.events import Outcome, SurveyKind


@pytest.mark.parametrize("n", [1, 7, 40, 41, 120])
def test_planned_outcomes_follow_womentos_thirds(n: int) -> None:
    planned = Counter(shares(n))
    assert sum(planned.values()) == n
    if n >= 40:
        own = planned[Outcome.EMPLOYED_OWN_FIELD] / n
        step = sum(
            planned[o]
            for o in (
                Outcome.EMPLOYED_OTHER_FIELD,
                Outcome.INTERNSHIP_OR_TEMPORARY,
                Outcome.FURTHER_EDUCATION,
            )
        )
        assert 0.28 <= own <= 0.36 and 0.28 <= step / n <= 0.38
        assert 0.26 <= planned[Outcome.CONFIDENCE_NO_CHANGE] / n <= 0.34


@pytest.mark.parametrize("target", list(Outcome))
@pytest.mark.parametrize("closing", [(True, False), (False, True), (True, True)])
def test_a_story_derives_to_its_planned_outcome(
    target: Outcome, closing: tuple[bool, bool]
) -> None:
    for seed in range(30):
        story = mentee_story(random.Random(seed), target, closing)
        answers = [Answers(uuid4(), SurveyKind(kind), given) for kind, given in story.items()]
        derived = derive_outcome(answers)
        assert derived is not None and derived.outcome is target, (seed, story)
