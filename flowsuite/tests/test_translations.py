"""The UI ships in Spanish: every string of the catalogues is translated and compiled."""

import gettext
import re

import pytest
from django.conf import settings

LOCALE = settings.BASE_DIR / "locale" / "es" / "LC_MESSAGES"


def po_entries(path) -> dict[tuple[str | None, str], str]:
    """(msgctxt, msgid) -> msgstr of a .po file (no header; plural forms are not used here)."""
    entries, current, key = {}, {}, None
    for line in path.read_text().splitlines() + [""]:
        if match := re.match(r'^(msgctxt|msgid|msgstr) "(.*)"$', line):
            key = match.group(1)
            current[key] = match.group(2)
        elif line.startswith('"') and key:
            current[key] += line[1:-1]
        elif not line.strip() and current:
            if current.get("msgid"):
                key = (current.get("msgctxt"), unescape(current["msgid"]))
                entries[key] = unescape(current.get("msgstr", ""))
            current, key = {}, None
    return entries


def unescape(text: str) -> str:
    return text.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_string_is_translated_to_spanish_and_compiled(domain):
    po = LOCALE / f"{domain}.po"
    assert "#, fuzzy" not in po.read_text().split("\n\n", 1)[1]
    entries = po_entries(po)
    assert entries and sorted(k for k, v in entries.items() if not v) == []
    with open(LOCALE / f"{domain}.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    stale = [
        (context, msgid)
        for (context, msgid), msgstr in entries.items()
        if (compiled.pgettext(context, msgid) if context else compiled.gettext(msgid)) != msgstr
    ]
    assert stale == [], "run `make messages` to compile the catalogues"
