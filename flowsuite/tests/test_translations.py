"""The UI ships in Spanish: every string of the catalogues is translated and compiled."""

import gettext
import re

import pytest
from django.conf import settings

LOCALE = settings.BASE_DIR / "locale" / "es" / "LC_MESSAGES"
PLURAL_FORMS = "Plural-Forms: nplurals=2; plural=(n != 1);"
PLURALS = 2  # Spanish: one form for 1, another for every other count


def po_entries(path) -> dict[tuple[str | None, str, str | None], tuple[str, ...]]:
    """(msgctxt, msgid, msgid_plural) -> (msgstr,) of a .po file, or (msgstr[0], msgstr[1]) of a
    plural entry (no header; msgid_plural is None for a singular one; a missing form is "")."""
    entries, current, key = {}, {}, None
    for line in path.read_text().splitlines() + [""]:
        if match := re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) "(.*)"$', line):
            key = match.group(1)
            current[key] = match.group(2)
        elif line.startswith('"') and key:
            current[key] += line[1:-1]
        elif not line.strip() and current:
            if current.get("msgid"):
                plural = current.get("msgid_plural")
                forms = [f"msgstr[{n}]" for n in range(PLURALS)] if plural else ["msgstr"]
                key = (
                    current.get("msgctxt"),
                    unescape(current["msgid"]),
                    unescape(plural) if plural else None,
                )
                entries[key] = tuple(unescape(current.get(form, "")) for form in forms)
            current, key = {}, None
    return entries


def unescape(text: str) -> str:
    return text.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def compiled_forms(compiled, context, msgid, msgid_plural) -> tuple[str, ...]:
    if msgid_plural is None:
        return (compiled.pgettext(context, msgid) if context else compiled.gettext(msgid),)
    return tuple(
        compiled.npgettext(context, msgid, msgid_plural, n)
        if context
        else compiled.ngettext(msgid, msgid_plural, n)
        for n in (1, 2)
    )


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_string_is_translated_to_spanish_and_compiled(domain):
    po = LOCALE / f"{domain}.po"
    header, body = po.read_text().split("\n\n", 1)
    assert PLURAL_FORMS in header.replace('"\n"', "").replace("\\n", "")
    assert not re.search(r"^#,.*\bfuzzy\b", body, re.MULTILINE)
    entries = po_entries(po)
    assert any(key[2] for key in entries), "the plural entries were not read"
    assert entries and sorted(k for k, forms in entries.items() if not all(forms)) == []
    with open(LOCALE / f"{domain}.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    stale = [key for key, forms in entries.items() if compiled_forms(compiled, *key) != forms]
    assert stale == [], "run `make messages` to compile the catalogues"
