"""Looking a text up in per-language tables ({"zh": {...}, "en": {...}}), the
one way every front end's table is read (render, admin_text, environment)."""
from typing import Any, Mapping


def worded(tables: Mapping[str, Mapping[str, str]], lang: str, key: str,
           values: Mapping[str, Any]) -> str:
    """The text `key` in `lang`, with `values` put in: English when we do not
    have the language, or it lacks the key."""
    table = tables.get(lang, tables["en"])
    text = table[key] if key in table else tables["en"][key]
    return text % values if values else text
