"""Loading and validating an indicator catalogue version (format: docs/CATALOGUE.md).

The file is parsed into YAML nodes first, so that every problem can name its line. A file
with any problem is refused whole; the caller keeps the version it had.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TypeVar

import yaml
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from app.identification.vocabulary import (
    HTCDS_METHODS_OF_CONTROL,
    AgeGroup,
    DimensionGroup,
    ExploitationForm,
    SetStatus,
    Strength,
)

BUNDLED = Path(__file__).parent / "data" / "ilo-ec-2009.yaml"
DIMENSION_IDS = (
    "deceptive_recruitment",
    "coercive_recruitment",
    "recruitment_abuse_of_vulnerability",
    "exploitative_conditions_of_work",
    "coercion_at_destination",
    "abuse_of_vulnerability_at_destination",
)
_CATALOGUE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_SET_ID = re.compile(r"^[a-z0-9_]{1,40}$")
_INDICATOR_SLUG = re.compile(r"^[a-z0-9_]{1,80}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
MAX_TEXT = 4000


# --- the model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A user-facing text in several languages; English is always present."""

    values: Mapping[str, str]

    def in_language(self, language: str) -> str:
        return self.values.get(language) or self.values["en"]

    def has(self, language: str) -> bool:
        return language in self.values


@dataclass(frozen=True)
class Dimension:
    id: str
    group: DimensionGroup
    label: Text


@dataclass(frozen=True)
class Indicator:
    id: str
    set_id: str
    dimension: str
    strength: Strength
    label: Text
    help: Text | None = None
    htcds_methods_of_control: tuple[str, ...] = ()


@dataclass(frozen=True)
class IndicatorSet:
    id: str
    age_group: AgeGroup
    forms: tuple[ExploitationForm, ...]
    status: SetStatus
    provenance: Text
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class PositiveCombination:
    """Minimum counts of present indicators that make a dimension positive."""

    strong: int = 0
    medium: int = 0
    weak: int = 0
    medium_or_weak: int = 0


@dataclass(frozen=True)
class AllOf:
    terms: tuple[Rule, ...]


@dataclass(frozen=True)
class AnyOf:
    terms: tuple[Rule, ...]


Rule = str | AllOf | AnyOf  # a dimension id is positive / all / any


@dataclass(frozen=True)
class Catalogue:
    id: str
    version: str
    title: Text
    provenance: Text
    dimensions: tuple[Dimension, ...]
    positive_combinations: tuple[PositiveCombination, ...]
    adult_rule: Rule
    child_rule: Rule
    sets: tuple[IndicatorSet, ...]
    indicators: Mapping[str, Indicator] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def sets_for(self, age_group: AgeGroup) -> tuple[IndicatorSet, ...]:
        return tuple(s for s in self.sets if s.age_group == age_group)


# --- validation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    line: int
    message: LazyString


class CatalogueInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__(f"{len(problems)} problem(s) in the catalogue")


T = TypeVar("T")
Node = yaml.Node


class _Reader:
    """Walks YAML nodes, collecting problems with line numbers instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, node: Node, message: LazyString) -> None:
        self.problems.append(Problem(node.start_mark.line + 1, message))

    def mapping(self, node: Node, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Node]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, _l("Expected a mapping (key: value)."))
            return {}
        result: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in required and key not in optional:
                self.fail(key_node, _l("Unknown key %(key)s.", key=str(key)))
            elif key in result:
                self.fail(key_node, _l("Key %(key)s appears twice.", key=key))
            else:
                result[key] = value_node
        for key in required:
            if key not in result:
                self.fail(node, _l("Missing key %(key)s.", key=key))
        return result

    def sequence(self, node: Node) -> list[Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, _l("Expected a list."))
            return []
        return list(node.value)

    def string(self, node: Node, pattern: re.Pattern[str] | None = None, max_length: int = MAX_TEXT) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            self.fail(node, _l("Expected text."))
            return None
        value = str(node.value)
        if not value.strip() or len(value) > max_length:
            self.fail(node, _l("Expected text of 1 to %(count)s characters.", count=max_length))
            return None
        if pattern is not None and not pattern.match(value):
            self.fail(node, _l("%(value)s is not in the expected form.", value=value[:80]))
            return None
        return value

    def count(self, node: Node) -> int | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:int":
            self.fail(node, _l("Expected a whole number."))
            return None
        value = int(node.value)
        if not 0 <= value <= 20:
            self.fail(node, _l("Expected a whole number from 0 to 20."))
            return None
        return value

    def choice(self, node: Node, enum_type: Callable[[str], T]) -> T | None:
        value = self.string(node, max_length=60)
        if value is None:
            return None
        try:
            return enum_type(value)
        except ValueError:
            self.fail(node, _l("%(value)s is not one of the allowed values.", value=value))
            return None

    def text(self, node: Node) -> Text | None:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, _l('Expected texts by language, like {en: "..."}.'))
            return None
        values: dict[str, str] = {}
        for key_node, value_node in node.value:
            language = self.string(key_node, _LANGUAGE, max_length=2)
            value = self.string(value_node)
            if language is not None and value is not None:
                values[language] = value
        if "en" not in values:
            self.fail(node, _l("An English text (en) is required."))
            return None
        return Text(values)


def parse_catalogue(source: str) -> Catalogue:
    """Parse and validate a catalogue file; raise CatalogueInvalid listing every problem."""
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise CatalogueInvalid([Problem(line, _l("The file is not valid YAML."))]) from None
    if root is None:
        raise CatalogueInvalid([Problem(1, _l("The file is empty."))])
    reader = _Reader()
    top = reader.mapping(root, ("catalogue", "dimensions", "rules", "sets"))
    catalogue = _read(reader, top)
    if reader.problems or catalogue is None:
        raise CatalogueInvalid(reader.problems)
    return catalogue


def _read(reader: _Reader, top: dict[str, Node]) -> Catalogue | None:
    if len(top) != 4:
        return None
    head = reader.mapping(top["catalogue"], ("id", "version", "title", "provenance"))
    dimensions = _read_dimensions(reader, top["dimensions"])
    rules = reader.mapping(top["rules"], ("dimension_positive", "adult", "child"))
    combos = (
        tuple(_read_combination(reader, n) for n in reader.sequence(rules["dimension_positive"]))
        if "dimension_positive" in rules
        else ()
    )
    known = {d.id for d in dimensions}
    adult = _read_rule(reader, rules["adult"], known) if "adult" in rules else None
    child = _read_rule(reader, rules["child"], known) if "child" in rules else None
    sets = _read_sets(reader, top["sets"], known)
    if not combos and "dimension_positive" in rules:
        reader.fail(rules["dimension_positive"], _l("At least one combination is required."))
    if reader.problems or len(head) != 4 or adult is None or child is None:
        return None
    indicators = {i.id: i for s in sets for i in s.indicators}
    return Catalogue(
        id=reader.string(head["id"], _CATALOGUE_ID) or "",
        version=reader.string(head["version"], max_length=40) or "",
        title=reader.text(head["title"]) or Text({"en": ""}),
        provenance=reader.text(head["provenance"]) or Text({"en": ""}),
        dimensions=dimensions,
        positive_combinations=tuple(c for c in combos if c is not None),
        adult_rule=adult,
        child_rule=child,
        sets=sets,
        indicators=indicators,
    )


def _read_dimensions(reader: _Reader, node: Node) -> tuple[Dimension, ...]:
    dimensions = []
    for item in reader.sequence(node):
        fields = reader.mapping(item, ("id", "group", "label"))
        if len(fields) != 3:
            continue
        dimension_id = reader.string(fields["id"])
        group = reader.choice(fields["group"], DimensionGroup)
        label = reader.text(fields["label"])
        if dimension_id is not None and group is not None and label is not None:
            dimensions.append(Dimension(dimension_id, group, label))
    if tuple(d.id for d in dimensions) != DIMENSION_IDS and not reader.problems:
        reader.fail(node, _l("The six dimensions must be listed with their standard ids, in order."))
    return tuple(dimensions)


def _read_combination(reader: _Reader, node: Node) -> PositiveCombination | None:
    fields = reader.mapping(node, (), ("strong", "medium", "weak", "medium_or_weak"))
    counts = {key: reader.count(value) for key, value in fields.items()}
    if any(value is None for value in counts.values()):
        return None
    combination = PositiveCombination(**{k: v for k, v in counts.items() if v is not None})
    if combination == PositiveCombination():
        reader.fail(node, _l("A combination needs at least one indicator."))
        return None
    return combination


def _read_rule(reader: _Reader, node: Node, dimensions: set[str]) -> Rule | None:
    if isinstance(node, yaml.ScalarNode):
        value = reader.string(node, max_length=60)
        if value is not None and value not in dimensions:
            reader.fail(node, _l("%(value)s is not a dimension of this catalogue.", value=value))
            return None
        return value
    fields = reader.mapping(node, (), ("all_of", "any_of"))
    if len(fields) != 1:
        reader.fail(node, _l("A rule is a dimension id, or exactly one of all_of / any_of."))
        return None
    ((kind, terms_node),) = fields.items()
    terms = [_read_rule(reader, term, dimensions) for term in reader.sequence(terms_node)]
    if not terms or any(term is None for term in terms):
        if not terms:
            reader.fail(terms_node, _l("A rule needs at least one term."))
        return None
    clean = tuple(term for term in terms if term is not None)
    return AllOf(clean) if kind == "all_of" else AnyOf(clean)


def _read_sets(reader: _Reader, node: Node, dimensions: set[str]) -> tuple[IndicatorSet, ...]:
    sets = []
    seen_sets: set[str] = set()
    seen_indicators: set[str] = set()
    for item in reader.sequence(node):
        fields = reader.mapping(item, ("id", "age_group", "forms", "status", "provenance", "indicators"))
        if len(fields) != 6:
            continue
        set_id = reader.string(fields["id"], _SET_ID)
        if set_id is not None and set_id in seen_sets:
            reader.fail(fields["id"], _l("The set %(value)s appears twice.", value=set_id))
        forms = tuple(f for f in (reader.choice(n, ExploitationForm) for n in reader.sequence(fields["forms"])) if f)
        age_group = reader.choice(fields["age_group"], AgeGroup)
        status = reader.choice(fields["status"], SetStatus)
        provenance = reader.text(fields["provenance"])
        indicators = tuple(_read_indicators(reader, fields["indicators"], set_id or "", dimensions, seen_indicators))
        if not indicators:
            reader.fail(fields["indicators"], _l("A set needs at least one indicator."))
        if set_id and age_group and status and provenance and forms:
            seen_sets.add(set_id)
            sets.append(IndicatorSet(set_id, age_group, forms, status, provenance, indicators))
    return tuple(sets)


def _read_indicators(
    reader: _Reader, node: Node, set_id: str, dimensions: set[str], seen: set[str]
) -> Iterator[Indicator]:
    for item in reader.sequence(node):
        fields = reader.mapping(item, ("id", "dimension", "strength", "label"), ("help", "htcds"))
        if len(fields) < 4:
            continue
        indicator_id = reader.string(fields["id"], max_length=120)
        if indicator_id is not None:
            prefix, _, slug = indicator_id.partition(".")
            if prefix != set_id or not _INDICATOR_SLUG.match(slug):
                reader.fail(
                    fields["id"],
                    _l("An indicator id is written <set id>.<name>, like %(value)s.", value=f"{set_id}.example_name"),
                )
                indicator_id = None
            elif indicator_id in seen:
                reader.fail(fields["id"], _l("The indicator %(value)s appears twice.", value=indicator_id))
                indicator_id = None
            else:
                seen.add(indicator_id)
        dimension = reader.string(fields["dimension"], max_length=60)
        if dimension is not None and dimension not in dimensions:
            reader.fail(fields["dimension"], _l("%(value)s is not a dimension of this catalogue.", value=dimension))
            dimension = None
        strength = reader.choice(fields["strength"], Strength)
        label = reader.text(fields["label"])
        help_text = reader.text(fields["help"]) if "help" in fields else None
        methods: tuple[str, ...] = ()
        if "htcds" in fields:
            htcds = reader.mapping(fields["htcds"], (), ("methods_of_control",))
            for method_node in reader.sequence(htcds.get("methods_of_control", yaml.SequenceNode("", []))):
                method = reader.string(method_node, max_length=60)
                if method is not None and method not in HTCDS_METHODS_OF_CONTROL:
                    reader.fail(method_node, _l("%(value)s is not an HTCDS method of control.", value=method))
                elif method is not None:
                    methods += (method,)
        if indicator_id and dimension and strength and label:
            yield Indicator(indicator_id, set_id, dimension, strength, label, help_text, methods)


@cache
def bundled_catalogue() -> Catalogue:
    """The catalogue shipped with the application (validated once per process)."""
    return parse_catalogue(BUNDLED.read_text(encoding="utf-8"))
