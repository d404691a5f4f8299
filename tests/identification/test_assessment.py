"""The assessment rules, branch by branch, and its properties."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.identification.assessment import (
    ChildReason,
    Level,
    UnknownIndicator,
    assess,
    combination_met,
    presume_child,
)
from app.identification.catalogue import DIMENSION_IDS, PositiveCombination, parse_catalogue
from tests.identification.sample_catalogue import indicator_id, sample_yaml

CATALOGUE = parse_catalogue(sample_yaml())
DR, CR, RV, EX, CD, VD = DIMENSION_IDS


def ids(set_id: str, dimension: str, **counts: int) -> list[str]:
    return [indicator_id(set_id, dimension, strength, n) for strength, k in counts.items() for n in range(1, k + 1)]


def adult(dimension: str, **counts: int) -> list[str]:
    return ids("adult_test", dimension, **counts)


def child(dimension: str, **counts: int) -> list[str]:
    return ids("child_test", dimension, **counts)


# --- step 1: when is a dimension positive? -------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "positive", "combination"),
    [
        ({"strong": 2}, True, PositiveCombination(strong=2)),
        ({"strong": 1, "medium": 1}, True, PositiveCombination(strong=1, medium_or_weak=1)),
        ({"strong": 1, "weak": 1}, True, PositiveCombination(strong=1, medium_or_weak=1)),
        ({"medium": 3}, True, PositiveCombination(medium=3)),
        ({"medium": 2, "weak": 1}, True, PositiveCombination(medium=2, weak=1)),
        ({"strong": 1}, False, None),
        ({"medium": 2}, False, None),
        ({"medium": 1, "weak": 2}, False, None),
        ({"weak": 3}, False, None),
        ({}, False, None),
    ],
)
def test_dimension_rule(counts: dict[str, int], positive: bool, combination: PositiveCombination | None) -> None:
    result = assess(CATALOGUE, adult(DR, **counts), child=False)
    dimension = next(d for d in result.sets[0].dimensions if d.dimension == DR)
    assert dimension.positive is positive
    assert dimension.combination == combination
    assert sorted(dimension.indicators) == sorted(adult(DR, **counts))  # the reasons are shown


def test_combination_counts_spare_indicators_only_once() -> None:
    combo = PositiveCombination(medium=2, medium_or_weak=1)
    assert not combination_met(combo, strong=0, medium=2, weak=0)
    assert combination_met(combo, strong=0, medium=3, weak=0)
    assert combination_met(combo, strong=0, medium=2, weak=1)


# --- step 2: adult and child readings -----------------------------------------------------

POSITIVE = {"strong": 2}


@pytest.mark.parametrize(
    ("dimensions", "level"),
    [
        ((DR, EX, CD), Level.PRESUMED_VICTIM),
        ((CR, EX, CD), Level.PRESUMED_VICTIM),
        ((RV, EX, VD), Level.PRESUMED_VICTIM),
        ((DR, EX, VD), Level.PRESUMED_VICTIM),
        ((DR, CR, RV, EX, CD, VD), Level.PRESUMED_VICTIM),
        ((EX, CD), Level.FURTHER_ASSESSMENT),  # no recruitment dimension
        ((DR, CD, VD), Level.FURTHER_ASSESSMENT),  # no exploitation
        ((DR, EX), Level.FURTHER_ASSESSMENT),  # adults need a means at destination
        ((), Level.NO_INDICATORS),
    ],
)
def test_adult_rule(dimensions: tuple[str, ...], level: Level) -> None:
    present = [i for d in dimensions for i in adult(d, **POSITIVE)]
    result = assess(CATALOGUE, present, child=False)
    assert result.level is level
    assert result.sets[0].rule_met is (level is Level.PRESUMED_VICTIM)
    assert result.positive_dimensions == frozenset(dimensions)


@pytest.mark.parametrize(
    ("dimensions", "level"),
    [
        ((DR, EX), Level.PRESUMED_VICTIM),  # the means are not needed for a child
        ((CR, EX), Level.PRESUMED_VICTIM),
        ((RV, EX), Level.PRESUMED_VICTIM),
        ((EX, CD, VD), Level.FURTHER_ASSESSMENT),  # still needs the act (recruitment)
        ((DR, CD), Level.FURTHER_ASSESSMENT),  # and the exploitation
        ((), Level.NO_INDICATORS),
    ],
)
def test_child_rule(dimensions: tuple[str, ...], level: Level) -> None:
    present = [i for d in dimensions for i in child(d, **POSITIVE)]
    assert assess(CATALOGUE, present, child=True).level is level


def test_indicators_below_any_dimension_still_ask_for_further_assessment() -> None:
    assert assess(CATALOGUE, adult(EX, weak=1), child=False).level is Level.FURTHER_ASSESSMENT


def test_answers_outside_the_age_groups_sets_are_refused() -> None:
    with pytest.raises(UnknownIndicator) as excinfo:
        assess(CATALOGUE, [*adult(DR, strong=1), "adult_test.nope"], child=False)
    assert excinfo.value.indicator_ids == ("adult_test.nope",)
    with pytest.raises(UnknownIndicator):
        assess(CATALOGUE, adult(DR, strong=1), child=True)


def test_result_wording_is_decision_support(ctx: None) -> None:
    assert str(Level.PRESUMED_VICTIM.title) == (
        "Indicators of trafficking present: presumed victim, refer for assistance"
    )
    assert str(Level.FURTHER_ASSESSMENT.title) == "Some indicators: refer for further assessment"
    assert str(Level.NO_INDICATORS.title) == "No indicators recorded"
    assert Level.PRESUMED_VICTIM.htcds_status == "Possible victim of trafficking"
    assert Level.FURTHER_ASSESSMENT.htcds_status is None


# --- presumption of minority ----------------------------------------------------------------

ENCOUNTER = date(2026, 11, 1)


@pytest.mark.parametrize(
    ("born", "estimate", "ticked", "is_child", "reasons"),
    [
        (None, None, False, True, (ChildReason.AGE_UNKNOWN,)),
        (date(2010, 5, 1), None, False, True, (ChildReason.UNDER_18_BY_BIRTH_DATE,)),
        (date(2008, 11, 2), None, False, True, (ChildReason.UNDER_18_BY_BIRTH_DATE,)),  # 18 tomorrow
        (date(2008, 11, 1), None, False, False, ()),  # 18 today
        (None, 16, False, True, (ChildReason.ESTIMATED_UNDER_18,)),
        (None, 18, False, False, ()),
        (None, 25, True, True, (ChildReason.MAY_BE_A_CHILD,)),
        (date(1990, 1, 1), 17, True, True, (ChildReason.ESTIMATED_UNDER_18, ChildReason.MAY_BE_A_CHILD)),
    ],
)
def test_presumption_of_minority(
    born: date | None, estimate: int | None, ticked: bool, is_child: bool, reasons: tuple[ChildReason, ...]
) -> None:
    result = presume_child(on=ENCOUNTER, date_of_birth=born, estimated_age=estimate, may_be_child=ticked)
    assert result.is_child is is_child and result.reasons == reasons


# --- properties -----------------------------------------------------------------------------

ADULT_IDS = sorted(i.id for s in CATALOGUE.sets_for(CATALOGUE.sets[0].age_group) for i in s.indicators)


@settings(max_examples=200, deadline=None)
@given(st.sets(st.sampled_from(ADULT_IDS)), st.sampled_from(ADULT_IDS))
def test_adding_an_indicator_never_lowers_the_result(present: set[str], extra: str) -> None:
    before = assess(CATALOGUE, present, child=False)
    after = assess(CATALOGUE, present | {extra}, child=False)
    assert after.level >= before.level
    assert after.positive_dimensions >= before.positive_dimensions


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(ADULT_IDS), unique=True), st.randoms())
def test_order_of_answers_does_not_matter(present: list[str], rnd: object) -> None:
    shuffled = list(present)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert assess(CATALOGUE, present, child=False) == assess(CATALOGUE, shuffled, child=False)


def test_a_typical_forced_labour_situation_on_the_bundled_catalogue() -> None:
    from app.identification.catalogue import bundled_catalogue

    catalogue = bundled_catalogue()
    present = [
        "adult_labour.deceived_nature_of_job",  # strong
        "adult_labour.deceived_wages",  # medium
        "adult_labour.excessive_working_hours",  # strong
        "adult_labour.low_or_no_salary",  # medium
        "adult_labour.confiscation_of_documents_destination",  # strong
        "adult_labour.debt_bondage_destination",  # strong
    ]
    result = assess(catalogue, present, child=False)
    assert result.level is Level.PRESUMED_VICTIM
    assert result.positive_dimensions == {DR, EX, CD}
    without_means = assess(catalogue, present[:4], child=False)
    assert without_means.level is Level.FURTHER_ASSESSMENT
