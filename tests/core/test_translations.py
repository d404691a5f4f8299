"""Every user-facing string is translatable, and the catalogues are complete and current."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2 import Environment

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
TEMPLATES = APP / "templates"
CATALOGUES = APP / "translations"
REQUIRED_LANGUAGES = ("fr", "de", "ro", "bg")

# Text allowed untranslated in templates: codes and symbols that read the same everywhere.
ALLOWED_TEXT = {"UTC", "\u2013", "\u00b7", "(", ")", ":"}
TRANSLATABLE_ATTRIBUTES = re.compile(r'\b(alt|title|aria-label|placeholder)="([^"]*)"')


def _template_text_problems(path: Path) -> list[str]:
    """Text outside Jinja expressions and outside HTML tags must not contain words."""
    env = Environment(extensions=["jinja2.ext.i18n", "jinja2.ext.do"])
    skeleton = []
    for _lineno, token_type, value in env.lex(path.read_text()):
        skeleton.append(value if token_type == "data" else "\x00")
    markup = "".join(skeleton)
    problems = []
    for match in TRANSLATABLE_ATTRIBUTES.finditer(markup):
        if re.search(r"[A-Za-z]", match.group(2).replace("\x00", "")):
            problems.append(f"{path.name}: attribute {match.group(1)}={match.group(2)!r}")
    text = re.sub(r"<!--.*?-->", " ", markup, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)
    text = re.sub(r"&[a-z]+;|&#\d+;", " ", text).replace("\x00", " ")
    for word in text.split():
        if word not in ALLOWED_TEXT and re.search(r"[A-Za-z]", word):
            problems.append(f"{path.name}: {word!r}")
    return problems


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_template_text_is_marked_for_translation(template: Path) -> None:
    assert _template_text_problems(template) == []


def test_template_checker_catches_plain_text(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text('<p>Hello {{ _("fine") }}</p><img alt="Logo" src="x">')
    assert len(_template_text_problems(bad)) == 2


USER_TEXT_CALLS = {
    "flash",
    "DomainError",
    "NotFound",
    "PermissionDenied",
    "ValidationFailed",
    "Conflict",
    "render_error",
    "ValidationError",
    "ClickException",
}
GETTEXT_NAMES = {"_", "_l", "gettext", "lazy_gettext", "ngettext"}
TEXT_KEYWORDS = {"message", "description", "label"}


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _python_problems(source: str, filename: str) -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name in GETTEXT_NAMES and isinstance(node.func, ast.Name):
            if not node.args or not (isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                problems.append(f"{filename}:{node.lineno}: {name}() needs a literal message")
            continue
        is_field = name.endswith("Field") and name != "FieldError"
        if name == "FieldError":
            positional = node.args[1:]
        elif is_field or name == "flash":
            positional = node.args[:1]
        else:
            positional = node.args
        if name in USER_TEXT_CALLS | {"FieldError"} or is_field:
            if name == "ClickException":
                continue  # operator-facing command-line messages stay in English
            for arg in positional:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and re.search("[A-Za-z]", arg.value):
                    problems.append(f"{filename}:{node.lineno}: {name}({arg.value!r}) is not translatable")
        for keyword in node.keywords:
            if (
                keyword.arg in TEXT_KEYWORDS
                and isinstance(keyword.value, ast.Constant)
                and isinstance(keyword.value.value, str)
            ):
                problems.append(f"{filename}:{node.lineno}: {keyword.arg}={keyword.value.value!r} is not translatable")
    return problems


def test_python_user_strings_are_marked_for_translation() -> None:
    problems = []
    for path in sorted(APP.rglob("*.py")):
        problems += _python_problems(path.read_text(), str(path.relative_to(ROOT)))
    assert problems == []


def test_python_checker_catches_plain_strings() -> None:
    source = 'flash("Saved")\nStringField("Name")\nFieldError("email", "Bad")\n_(f"x{y}")\nX(message="No")\n'
    assert len(_python_problems(source, "sample.py")) == 5


def _extract(tmp_path: Path) -> set[str]:
    pot = tmp_path / "fresh.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-k",
            "ngettext:1,2",
            "--no-location",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}


def _catalogue_ids(path: Path) -> dict[str, object]:
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    return {(m.id if isinstance(m.id, str) else m.id[0]): m for m in catalogue if m.id}


def test_template_catalogue_is_up_to_date(tmp_path: Path) -> None:
    fresh = _extract(tmp_path)
    committed = set(_catalogue_ids(CATALOGUES / "messages.pot"))
    assert fresh - committed == set(), "run `make extract-messages`: new strings are missing from messages.pot"
    assert committed - fresh == set(), "run `make extract-messages`: messages.pot has strings no longer used"


@pytest.mark.parametrize("language", REQUIRED_LANGUAGES)
def test_catalogue_is_complete(tmp_path: Path, language: str) -> None:
    fresh = _extract(tmp_path)
    messages = _catalogue_ids(CATALOGUES / language / "LC_MESSAGES" / "messages.po")
    missing = sorted(fresh - set(messages))
    untranslated = sorted(
        key
        for key, m in messages.items()
        if key in fresh and (m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string))  # type: ignore[attr-defined]
    )
    assert missing == [] and untranslated == [], f"{language}: missing {missing[:5]}, untranslated {untranslated[:5]}"


@pytest.mark.parametrize("language", REQUIRED_LANGUAGES)
def test_placeholders_survive_translation(language: str) -> None:
    pattern = re.compile(r"%\(\w+\)[sd]")
    for key, message in _catalogue_ids(CATALOGUES / language / "LC_MESSAGES" / "messages.po").items():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)  # type: ignore[attr-defined]
        for translated in strings:
            if translated:
                assert set(pattern.findall(translated)) <= set(pattern.findall(str(message.id))) | {"%(num)d"}, key
