"""Report languages: English (the source strings) and zh-CN, from Babel gettext catalogues.

The catalogues are committed as `.po` files under `reports/locale/<locale>/LC_MESSAGES/`
and read at import time with Babel's `read_po` (no compiled `.mo` to build or ship: a
fresh `pip install -e .` and a wheel both work; docs/decisions.md says why). Templates
mark text with `{% trans %}` / `_()` (jinja2's i18n extension); Python code that makes
labels (charts, verdicts, finding titles) calls `Language.gettext`.

Findings keep their machine-readable fields (rule, device, evidence keys, JSON) in
English; their human text is a per-rule title and action from the catalogue, with the
figures taken from the finding's evidence.
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from profiler.model.errors import FinwattInputError

DOMAIN = "finwatt"
LANGUAGES = {"en": None, "zh-CN": "zh_CN"}
"""--lang values -> catalogue locale (None: the English source strings)."""

CJK_FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei")
"""Fonts a zh-CN report names (CSS and charts), in order; Debian: fonts-noto-cjk."""


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark only"
    """Mark a string for the catalogue without translating it here."""
    return message


class LanguageError(FinwattInputError):
    """`--lang` names a language the reports do not have."""


@dataclass(frozen=True)
class Language:
    """One report language: its tag (`lang` attribute) and its translations."""

    tag: str
    translations: gettext.NullTranslations

    def gettext(self, message: str) -> str:
        """Return `message` translated (the English source when there is no entry)."""
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """Return the singular or plural form of a message for `n`, translated."""
        return self.translations.ngettext(singular, plural, n)

    @property
    def is_cjk(self) -> bool:
        """True for languages whose text needs a CJK font."""
        return self.tag.startswith("zh")


def _catalogue(locale: str) -> gettext.NullTranslations:
    """Read `<locale>/LC_MESSAGES/finwatt.po` with Babel and return its translations."""
    po = resources.files("reports").joinpath("locale", locale, "LC_MESSAGES", f"{DOMAIN}.po")
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@cache
def language(tag: str = "en") -> Language:
    """Return the report language for a `--lang` value ("en" or "zh-CN").

    Raises:
        LanguageError: an unknown tag (the message lists the known ones).
    """
    if tag not in LANGUAGES:
        known = ", ".join(LANGUAGES)
        raise LanguageError(f"--lang {tag!r} is not a report language; use one of: {known}")
    locale = LANGUAGES[tag]
    translations = gettext.NullTranslations() if locale is None else _catalogue(locale)
    return Language(tag, translations)
