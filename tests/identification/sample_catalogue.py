"""A small catalogue for tests: two indicators of each strength in every dimension."""

from __future__ import annotations

from app.identification.catalogue import DIMENSION_IDS

GROUPS = {
    "deceptive_recruitment": "recruitment",
    "coercive_recruitment": "recruitment",
    "recruitment_abuse_of_vulnerability": "recruitment",
    "exploitative_conditions_of_work": "exploitation",
    "coercion_at_destination": "destination",
    "abuse_of_vulnerability_at_destination": "destination",
}
SHORT = {
    "deceptive_recruitment": "dr",
    "coercive_recruitment": "cr",
    "recruitment_abuse_of_vulnerability": "rv",
    "exploitative_conditions_of_work": "ex",
    "coercion_at_destination": "cd",
    "abuse_of_vulnerability_at_destination": "vd",
}


def indicator_id(set_id: str, dimension: str, strength: str, n: int) -> str:
    return f"{set_id}.{SHORT[dimension]}_{strength}_{n}"


def _indicators(set_id: str) -> str:
    lines = []
    for dimension in DIMENSION_IDS:
        for strength in ("strong", "medium", "weak"):
            for n in (1, 2, 3):
                lines.append(
                    f"      - {{id: {indicator_id(set_id, dimension, strength, n)}, dimension: {dimension}, "
                    f'strength: {strength}, label: {{en: "{dimension} {strength} {n}", fr: "fr {n}"}}}}'
                )
    return "\n".join(lines)


def sample_yaml() -> str:
    dimensions = "\n".join(f'  - {{id: {d}, group: {GROUPS[d]}, label: {{en: "{d}"}}}}' for d in DIMENSION_IDS)
    return f"""\
catalogue:
  id: test-catalogue
  version: "1"
  title: {{en: "Test catalogue"}}
  provenance: {{en: "Made up for tests"}}
dimensions:
{dimensions}
rules:
  dimension_positive:
    - {{strong: 2}}
    - {{strong: 1, medium_or_weak: 1}}
    - {{medium: 3}}
    - {{medium: 2, weak: 1}}
  adult: {{all_of: [{{any_of: [deceptive_recruitment, coercive_recruitment, recruitment_abuse_of_vulnerability]}},
                   exploitative_conditions_of_work,
                   {{any_of: [coercion_at_destination, abuse_of_vulnerability_at_destination]}}]}}
  child: {{all_of: [{{any_of: [deceptive_recruitment, coercive_recruitment, recruitment_abuse_of_vulnerability]}},
                   exploitative_conditions_of_work]}}
sets:
  - id: adult_test
    age_group: adult
    forms: [forced_labour]
    status: secondary
    provenance: {{en: "test"}}
    indicators:
{_indicators("adult_test")}
  - id: child_test
    age_group: child
    forms: [forced_labour]
    status: provisional
    provenance: {{en: "test"}}
    indicators:
{_indicators("child_test")}
"""
