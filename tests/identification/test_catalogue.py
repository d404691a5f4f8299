"""Catalogue files: validated on load, with problems named by line."""

from __future__ import annotations

import pytest

from app.identification.catalogue import BUNDLED, CatalogueInvalid, bundled_catalogue, parse_catalogue
from app.identification.vocabulary import AgeGroup, ExploitationForm, SetStatus
from tests.identification.sample_catalogue import sample_yaml


def problems(source: str) -> list[tuple[int, str]]:
    with pytest.raises(CatalogueInvalid) as excinfo:
        parse_catalogue(source)
    return [(p.line, str(p.message)) for p in excinfo.value.problems]


def line_of(source: str, needle: str) -> int:
    return next(n for n, line in enumerate(source.splitlines(), start=1) if needle in line)


def test_sample_catalogue_loads() -> None:
    catalogue = parse_catalogue(sample_yaml())
    assert catalogue.key == "test-catalogue@1"
    assert [s.id for s in catalogue.sets] == ["adult_test", "child_test"]
    assert catalogue.sets[1].status is SetStatus.PROVISIONAL


def test_not_yaml_names_the_line() -> None:
    assert problems("catalogue:\n  id: [unclosed\n") == [(3, "The file is not valid YAML.")]


def test_empty_file() -> None:
    assert problems("") == [(1, "The file is empty.")]


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            'dimension: coercion_at_destination, strength: strong, label: {en: "coercion_at_destination strong 1"',
            'dimension: nowhere, strength: strong, label: {en: "coercion_at_destination strong 1"',
            "dimension: nowhere",
            "nowhere is not a dimension of this catalogue.",
        ),
        (
            'strength: weak, label: {en: "deceptive_recruitment weak 1"',
            'strength: feeble, label: {en: "deceptive_recruitment weak 1"',
            "strength: feeble",
            "feeble is not one of the allowed values.",
        ),
        (
            "id: adult_test.dr_medium_2,",
            "id: adult_test.dr_medium_1,",
            'label: {en: "deceptive_recruitment medium 2"',
            "The indicator adult_test.dr_medium_1 appears twice.",
        ),
        (
            "id: child_test.ex_weak_3,",
            "id: adult_test.ex_weak_9,",
            "id: adult_test.ex_weak_9",
            "An indicator id is written <set id>.<name>, like child_test.example_name.",
        ),
        (
            'label: {en: "exploitative_conditions_of_work strong 2", fr: "fr 2"}',
            'label: {fr: "fr 2"}',
            'label: {fr: "fr 2"}',
            "An English text (en) is required.",
        ),
        (
            "    forms: [forced_labour]\n    status: provisional",
            "    forms: [forced_fun]\n    status: provisional",
            "forced_fun",
            "forced_fun is not one of the allowed values.",
        ),
    ],
)
def test_bad_entries_are_refused_with_their_line(old: str, new: str, needle: str, message: str) -> None:
    source = sample_yaml()
    assert old in source
    changed = source.replace(old, new, 1)
    found = problems(changed)
    assert (line_of(changed, needle), message) in found


def test_every_problem_is_reported_not_just_the_first() -> None:
    source = sample_yaml().replace("strength: weak", "strength: feeble")
    assert len(problems(source)) == 2 * 6 * 3


def test_missing_and_unknown_keys() -> None:
    source = sample_yaml().replace('  version: "1"\n', "  colour: blue\n")
    found = problems(source)
    assert (line_of(source, "colour"), "Unknown key colour.") in found
    assert (2, "Missing key version.") in found


def test_rule_with_unknown_dimension() -> None:
    source = sample_yaml().replace("exploitative_conditions_of_work]}", "exploitation_typo]}")
    assert (
        line_of(source, "exploitation_typo"),
        "exploitation_typo is not a dimension of this catalogue.",
    ) in problems(source)


def test_bundled_catalogue_is_valid_and_honest_about_its_sources() -> None:
    if not BUNDLED.exists():
        pytest.fail("the bundled catalogue file is missing")
    catalogue = bundled_catalogue()
    sets = {s.id: s for s in catalogue.sets}
    assert len(sets["adult_labour"].indicators) == 67
    assert sets["adult_labour"].status is SetStatus.SECONDARY
    provisional = {s.id for s in catalogue.sets if s.status is SetStatus.PROVISIONAL}
    assert {"adult_sexual", "child_sexual"} <= provisional  # the sexual-exploitation lists were not found
    for age_group in AgeGroup:
        covered = {form for s in catalogue.sets_for(age_group) for form in s.forms}
        missing = set(ExploitationForm) - covered - {ExploitationForm.CHILD_LABOUR}
        assert missing == set(), f"{age_group}: no indicator set for {missing}"
    languages = ("en", "fr", "de", "ro", "bg")
    assert all(i.label.has(code) for i in catalogue.indicators.values() for code in languages)
    assert all(d.label.has(code) for d in catalogue.dimensions for code in languages)
