"""The explained assessment: a pure function over a catalogue and the indicators present.

It reports which dimensions are met and by which indicators, and an overall level worded
as decision support. It is never a legal determination (Directive 2011/36/EU Art. 11(2):
assistance starts on reasonable grounds alone). Rules are data in the catalogue file.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from app.identification.catalogue import AllOf, Catalogue, IndicatorSet, PositiveCombination, Rule
from app.identification.vocabulary import AgeGroup, Strength

ADULT_AGE = 18


class Level(enum.IntEnum):
    """Ordered: a higher level never turns into a lower one when indicators are added."""

    NO_INDICATORS = 0
    FURTHER_ASSESSMENT = 1
    PRESUMED_VICTIM = 2

    @property
    def title(self) -> LazyString:
        return LEVEL_TITLES[self]

    @property
    def htcds_status(self) -> str | None:
        """HTCDS vic_TraffickingStatus before any formal decision."""
        return "Possible victim of trafficking" if self is Level.PRESUMED_VICTIM else None


LEVEL_TITLES = {
    Level.NO_INDICATORS: _l("No indicators recorded"),
    Level.FURTHER_ASSESSMENT: _l("Some indicators: refer for further assessment"),
    Level.PRESUMED_VICTIM: _l("Indicators of trafficking present: presumed victim, refer for assistance"),
}


class ChildReason(enum.StrEnum):
    AGE_UNKNOWN = "age_unknown"
    UNDER_18_BY_BIRTH_DATE = "under_18_by_birth_date"
    ESTIMATED_UNDER_18 = "estimated_under_18"
    MAY_BE_A_CHILD = "may_be_a_child"

    @property
    def title(self) -> LazyString:
        return CHILD_REASON_TITLES[self]


CHILD_REASON_TITLES = {
    ChildReason.AGE_UNKNOWN: _l("Age unknown: presumed a child until shown otherwise"),
    ChildReason.UNDER_18_BY_BIRTH_DATE: _l("Under 18 by date of birth"),
    ChildReason.ESTIMATED_UNDER_18: _l("Estimated age under 18"),
    ChildReason.MAY_BE_A_CHILD: _l("There are reasons to believe the person may be a child"),
}


@dataclass(frozen=True)
class ChildPresumption:
    is_child: bool
    reasons: tuple[ChildReason, ...]


def presume_child(
    *, on: date, date_of_birth: date | None, estimated_age: int | None, may_be_child: bool
) -> ChildPresumption:
    """Presumption of minority (Art. 13(2)): any reason to believe the person is a child is enough."""
    reasons: list[ChildReason] = []
    if date_of_birth is None and estimated_age is None:
        reasons.append(ChildReason.AGE_UNKNOWN)
    if date_of_birth is not None and _age_on(date_of_birth, on) < ADULT_AGE:
        reasons.append(ChildReason.UNDER_18_BY_BIRTH_DATE)
    if estimated_age is not None and estimated_age < ADULT_AGE:
        reasons.append(ChildReason.ESTIMATED_UNDER_18)
    if may_be_child:
        reasons.append(ChildReason.MAY_BE_A_CHILD)
    return ChildPresumption(bool(reasons), tuple(reasons))


def _age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass(frozen=True)
class DimensionResult:
    dimension: str
    positive: bool
    indicators: tuple[str, ...]  # ids present in this dimension, catalogue order
    combination: PositiveCombination | None  # the first combination that was met


@dataclass(frozen=True)
class SetResult:
    set_id: str
    dimensions: tuple[DimensionResult, ...]
    rule_met: bool


@dataclass(frozen=True)
class Assessment:
    catalogue_key: str
    age_group: AgeGroup
    level: Level
    sets: tuple[SetResult, ...]
    present: tuple[str, ...]

    @property
    def positive_dimensions(self) -> frozenset[str]:
        return frozenset(d.dimension for s in self.sets for d in s.dimensions if d.positive)


class UnknownIndicator(ValueError):
    """An answer names an indicator that is not in the catalogue version for this age group."""

    def __init__(self, indicator_ids: Iterable[str]) -> None:
        self.indicator_ids = tuple(sorted(indicator_ids))
        super().__init__(f"unknown indicators: {', '.join(self.indicator_ids)}")


def combination_met(combination: PositiveCombination, strong: int, medium: int, weak: int) -> bool:
    if strong < combination.strong or medium < combination.medium or weak < combination.weak:
        return False
    spare = (medium - combination.medium) + (weak - combination.weak)
    return spare >= combination.medium_or_weak


def rule_met(rule: Rule, positive: frozenset[str]) -> bool:
    if isinstance(rule, str):
        return rule in positive
    if isinstance(rule, AllOf):
        return all(rule_met(term, positive) for term in rule.terms)
    return any(rule_met(term, positive) for term in rule.terms)


def _assess_set(catalogue: Catalogue, indicator_set: IndicatorSet, present: frozenset[str], rule: Rule) -> SetResult:
    results = []
    for dimension in catalogue.dimensions:
        found = [i for i in indicator_set.indicators if i.dimension == dimension.id and i.id in present]
        counts = {strength: sum(1 for i in found if i.strength == strength) for strength in Strength}
        combination = next(
            (
                c
                for c in catalogue.positive_combinations
                if combination_met(c, counts[Strength.STRONG], counts[Strength.MEDIUM], counts[Strength.WEAK])
            ),
            None,
        )
        results.append(DimensionResult(dimension.id, combination is not None, tuple(i.id for i in found), combination))
    positive = frozenset(r.dimension for r in results if r.positive)
    return SetResult(indicator_set.id, tuple(results), rule_met(rule, positive))


def assess(catalogue: Catalogue, present: Iterable[str], *, child: bool) -> Assessment:
    """Assess the indicators present against every set for the person's age group.

    Child rules apply when ``child`` is true (see :func:`presume_child`): the means
    (coercion or abuse of vulnerability at destination) are not needed.
    """
    age_group = AgeGroup.CHILD if child else AgeGroup.ADULT
    answers = frozenset(present)
    sets = catalogue.sets_for(age_group)
    allowed = {i.id for s in sets for i in s.indicators}
    unknown = answers - allowed
    if unknown:
        raise UnknownIndicator(unknown)
    rule = catalogue.child_rule if child else catalogue.adult_rule
    results = tuple(_assess_set(catalogue, s, answers, rule) for s in sets)
    if any(r.rule_met for r in results):
        level = Level.PRESUMED_VICTIM
    elif answers:
        level = Level.FURTHER_ASSESSMENT
    else:
        level = Level.NO_INDICATORS
    ordered = tuple(i.id for s in sets for i in s.indicators if i.id in answers)
    return Assessment(catalogue.key, age_group, level, results, ordered)
