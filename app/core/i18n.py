"""Locale selection: the signed-in user's language, else the visitor's choice, else the browser's."""

from __future__ import annotations

import gettext
from functools import lru_cache

import pycountry
from flask import current_app, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user

LANGUAGE_NAMES = {"en": "English", "fr": "Français", "de": "Deutsch", "ro": "Română", "bg": "Български"}


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    if current_user and current_user.is_authenticated and current_user.preferred_language in languages:
        return str(current_user.preferred_language)
    chosen = session.get("language")
    if chosen in languages:
        return str(chosen)
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


@lru_cache(maxsize=16)
def _country_translations(language: str) -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)


def country_name(code: str, language: str | None = None) -> str:
    """Localised country name from pycountry's ISO 3166-1 catalogue."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    name = getattr(country, "common_name", None) or country.name
    lang = language or str(get_locale() or "en")
    return _country_translations(lang).gettext(name)


def language_choices() -> list[tuple[str, str]]:
    """The offered interface languages, each named in its own language."""
    return [(code, LANGUAGE_NAMES.get(code, code)) for code in current_app.config["LANGUAGES"]]


@lru_cache(maxsize=16)
def _language_translations(language: str) -> gettext.NullTranslations:
    return gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=[language], fallback=True)


def language_name(code: str, language: str | None = None) -> str:
    """Localised name of an ISO 639-1 language, from pycountry."""
    entry = pycountry.languages.get(alpha_2=code)
    if entry is None:
        return code
    lang = language or str(get_locale() or "en")
    return _language_translations(lang).gettext(entry.name)


def all_countries() -> list[tuple[str, str]]:
    """Every ISO 3166-1 country as (alpha-2, localised name), sorted by name."""
    return list(_all_countries(str(get_locale() or "en")))


@lru_cache(maxsize=16)
def _all_countries(language: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(((c.alpha_2, country_name(c.alpha_2, language)) for c in pycountry.countries), key=lambda i: i[1])
    )


def all_languages() -> list[tuple[str, str]]:
    """ISO 639-1 languages as (code, localised name), sorted by name."""
    return list(_all_languages(str(get_locale() or "en")))


@lru_cache(maxsize=16)
def _all_languages(language: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            (
                (lang.alpha_2, language_name(lang.alpha_2, language))
                for lang in pycountry.languages
                if hasattr(lang, "alpha_2")
            ),
            key=lambda i: i[1],
        )
    )
