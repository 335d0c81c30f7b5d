"""The manifest schema: every key of issue.yaml is declared once, as a field of the dataclass
that holds it (`inputs/manifest.py`), with its type, default, hint and documentation; the
house style file (styles/house.yaml, `inputs/housestyle.py`) is declared the same way.

Validation (`inputs/yamlnodes.py`), the defaults and the README's key list all come from these
declarations, so adding a key means adding its field and the code that uses it.

    python -m typeset.inputs.schema     prints the README's key list
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .cjk import display_width

# The kinds of value a key may take; `yamlnodes.NodeReader.read_KIND` reads each.
KINDS = ("text", "texts", "integer", "number", "length", "size", "choice", "pages", "image", "markdown", "barcode",
         "cmyk", "flag", "fillers", "mapping", "list")


@dataclass(frozen=True)
class Key:
    kind: str
    name: str = ""  # the YAML key, when it differs from the field name
    required: bool = False
    item: type | None = None  # the dataclass of a mapping, or of a list's items
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    single: bool = False  # texts: one string stands for a list of one
    hint: str = ""  # why a missing or invalid value matters, and what to write
    example: str = ""  # the README's sample value
    doc: str = ""  # the README's comment


def key(kind: str, default: Any = None, *, factory=None, **options) -> Any:
    """A dataclass field that is a key of the manifest."""
    assert kind in KINDS, kind
    metadata = {"key": Key(kind, **options)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def keys_of(cls: type) -> list[tuple[dataclasses.Field, Key]]:
    """The manifest keys a dataclass declares, in declaration order."""
    return [(f, f.metadata["key"]) for f in dataclasses.fields(cls) if "key" in f.metadata]


def yaml_name(field: dataclasses.Field, declared: Key) -> str:
    return declared.name or field.name


def default_of(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None if field.default is dataclasses.MISSING else field.default


COMMENT_COLUMN = 33


def reference(cls: type, indent: str = "") -> list[str]:
    """The keys of `cls` as commented YAML, as the README shows them."""
    lines: list[str] = []
    for field, declared in keys_of(cls):
        name = yaml_name(field, declared)
        value = f" {declared.example}" if declared.example else ""
        doc = declared.doc
        if declared.required and not doc.startswith("required"):
            doc = f"required: {doc}" if doc else "required"
        lines.append(_commented(f"{indent}{name}:{value}", doc))
        if declared.kind == "mapping":
            lines += reference(declared.item, indent + "  ")
        elif declared.kind == "list" and declared.item is not None:
            items = reference(declared.item, indent + "    ")
            if items:
                items[0] = f"{indent}  - " + items[0][len(indent) + 4:]
            lines += items
    return lines


def _commented(text: str, comment: str) -> str:
    if not comment:
        return text
    return f"{text}{' ' * max(1, COMMENT_COLUMN - 1 - display_width(text))}# {comment}"


def manifest_reference() -> str:
    from .manifest import Manifest

    return "\n".join(reference(Manifest)) + "\n"


if __name__ == "__main__":
    print(manifest_reference(), end="")
