"""Typed reading of composed YAML nodes against the manifest schema, with positions.

The YAML is composed into nodes (not just loaded) so that every value keeps its line and
column; each problem becomes a diagnostic `issue.yaml:LINE:COL key: message`, and reading
goes on, so that every problem of the file is reported at once.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ..diagnostics import Diagnostics
from ..i18n import _
from .images import check_image
from .schema import Key, default_of, keys_of, yaml_name

_LENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mm|cm|in|pt)\s*$")
_MM_PER_UNIT = {"mm": 1.0, "cm": 10.0, "in": 25.4, "pt": 25.4 / 72}
_PAGE_RANGE = re.compile(r"^\s*(\d+)\s*(?:[-–—]\s*(\d+)\s*)?$")

Entries = dict[str, tuple[yaml.Node, yaml.Node]]  # key name -> (value node, key node)


def compose(text: str) -> yaml.Node | None:
    """`text` as YAML nodes: by libyaml where PyYAML has it (ten times faster; the same nodes,
    lines and columns), and a document it rejects once more by PyYAML's own parser, whose
    error messages are the ones a person is shown. Raises yaml.YAMLError."""
    try:
        return yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader)


class NodeReader:
    """Typed access to composed YAML nodes that records diagnostics with positions."""

    def __init__(self, file: str, root: Path, diagnostics: Diagnostics, strict: bool, display_root: str = ""):
        self.file = file
        self.root = root
        self.diagnostics = diagnostics
        self.strict = strict
        self.display_root = display_root  # the issue folder as the user named it
        self._constructor = yaml.constructor.SafeConstructor()

    # -- positions and errors ------------------------------------------------------------------

    def where(self, node: yaml.Node, key: str) -> dict:
        mark = node.start_mark
        return {"file": self.file, "line": mark.line + 1, "column": mark.column + 1, "key": key}

    def error(self, node: yaml.Node, key: str, message: str, hint: str | None = None) -> None:
        self.diagnostics.error(message, hint=hint, **self.where(node, key))

    def missing(self, entries: Entries, name: str, key: str, hint: str = "") -> None:
        """A required key is absent: at the top level said of the file, else pointed at the mapping
        that lacks it (its first key is the best position there is)."""
        anchor = next(iter(entries.values()), (None, None))[1]
        if "." not in key and "[" not in key:
            self.diagnostics.error(_("'{name}' is required", name=name), file=self.file, key=key,
                                   hint=_(hint) if hint else None)
        elif anchor is None:
            self.diagnostics.error(_("'{name}' is required", name=name), file=self.file, key=key)
        else:
            self.error(anchor, key, _("'{name}' is required", name=name))

    # -- the schema ------------------------------------------------------------------------------

    def fields(self, cls: type, node: yaml.Node | None, path: str, partial: bool = False
               ) -> tuple[dict, Entries] | None:
        """The values of the keys `cls` declares (defaults filled in) and the mapping's entries;
        None when `node` is not a mapping. `partial`: keys left out are None, none is required."""
        entries = self.mapping(node, path, {yaml_name(f, k) for f, k in keys_of(cls)})
        if entries is None:
            return None
        values = {}
        for field, declared in keys_of(cls):
            name = yaml_name(field, declared)
            key = f"{path}.{name}" if path else name
            if partial:
                values[field.name] = self.value(declared, entries, name, key, required=False)
                continue
            value = self.value(declared, entries, name, key)
            values[field.name] = default_of(field) if value is None else value
        return values, entries

    def value(self, declared: Key, entries: Entries, name: str, key: str, required: bool = True):
        node = entries.get(name, (None,))[0]
        if node is None or _is_null(node):
            if declared.required and required:
                self.missing(entries, name, key, declared.hint)
            return None
        return getattr(self, f"read_{declared.kind}")(node, key, declared)

    def read_object(self, cls: type, node: yaml.Node, key: str):
        """A mapping read as `cls`: its keys, then `cls.from_manifest(values, entries, reader, key)`
        where a class checks more than its keys' types."""
        read = self.fields(cls, node, key)
        if read is None:
            return None
        values, entries = read
        if hasattr(cls, "from_manifest"):
            return cls.from_manifest(values, entries, self, key)
        return cls(**values)

    # -- kinds of value --------------------------------------------------------------------------

    def read_mapping(self, node: yaml.Node, key: str, declared: Key):
        return self.read_object(declared.item, node, key)

    def read_list(self, node: yaml.Node, key: str, declared: Key) -> list:
        items = [self.read_object(declared.item, item, f"{key}[{i}]") for i, item in enumerate(self.sequence(node, key))]
        return [item for item in items if item is not None]

    def read_text(self, node: yaml.Node, key: str, declared: Key) -> str | None:
        value = self.scalar(node, key)
        if value is None:
            return None
        if isinstance(value, (bool, list, dict)):
            self.error(node, key, _("expected text, got {kind}", kind=_kind(node)))
            return None
        return str(value)

    def read_texts(self, node: yaml.Node, key: str, declared: Key) -> list[str]:
        if declared.single and not isinstance(node, yaml.SequenceNode):
            text = self.read_text(node, key, declared)
            return [text] if text else []
        return [str(self.scalar(n, f"{key}[{i}]") or "") for i, n in enumerate(self.sequence(node, key))]

    def read_integer(self, node: yaml.Node, key: str, declared: Key) -> int | None:
        value = self.scalar(node, key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(node, key, _("expected a whole number, got {value!r}", value=value),
                       hint=_("write it in digits, e.g. 2024"))
            return None
        minimum = declared.minimum if declared.minimum is not None else 0
        if value < minimum:
            self.error(node, key, _("must be {minimum} or more, got {value}", minimum=minimum, value=value))
            return None
        return value

    def read_number(self, node: yaml.Node, key: str, declared: Key | None = None) -> float | None:
        value = self.scalar(node, key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            self.error(node, key, _("expected a number, got {value!r}", value=value))
            return None
        return float(value)

    def read_cmyk(self, node: yaml.Node, key: str, declared: Key) -> tuple[float, float, float, float] | None:
        inks = [self.read_number(item, f"{key}[{i}]") for i, item in enumerate(self.sequence(node, key))]
        if len(inks) != 4 or any(ink is None or ink > 1 for ink in inks):
            self.error(node, key, _("expected a CMYK colour: [cyan, magenta, yellow, black], each 0 to 1"),
                       hint=_("e.g. [0, 0.95, 0.85, 0.3]"))
            return None
        return tuple(inks)

    def read_length(self, node: yaml.Node, key: str, declared: Key | None = None) -> float | None:
        value = self.scalar(node, key)
        if value is None:
            return None
        match = _LENGTH.match(str(value))
        if not match or isinstance(value, bool):
            self.error(node, key, _("expected a length such as 210mm, got {value!r}", value=value),
                       hint=_("write a number with a unit: mm, cm, in or pt"))
            return None
        return round(float(match.group(1)) * _MM_PER_UNIT[match.group(2)], 3)

    def read_size(self, node: yaml.Node, key: str, declared: Key) -> tuple[float, float] | None:
        items = self.sequence(node, key)
        if isinstance(node, yaml.SequenceNode) and len(items) != 2:
            self.error(node, key, _("expected [width, height], got {count} values", count=len(items)))
            return None
        if len(items) != 2:
            return None
        width, height = self.read_length(items[0], f"{key}[0]"), self.read_length(items[1], f"{key}[1]")
        if not (width and height):
            return None
        if not (50 <= width <= 1000 and 50 <= height <= 1000):
            self.error(node, key, _("trim {width:g}×{height:g} mm is not a page size", width=width, height=height),
                       hint=_(declared.hint))
        return (width, height)

    def read_choice(self, node: yaml.Node, key: str, declared: Key) -> str | None:
        value = self.read_text(node, key, declared)
        if value is not None and value not in declared.choices:
            self.error(node, key, _("unknown {name} '{value}'", name=key.rsplit(".", 1)[-1], value=value),
                       hint=_(declared.hint) if declared.hint else _("one of: {choices}",
                                                                     choices=", ".join(declared.choices)))
            return None
        return value

    def read_pages(self, node: yaml.Node, key: str, declared: Key | None = None):
        from .manifest import PageRange

        value = self.scalar(node, key)
        if value is None:
            return None
        match = _PAGE_RANGE.match(str(value)) if not isinstance(value, bool) else None
        if not match:
            self.error(node, key, _("expected a page or a page range such as \"9-12\", got {value!r}", value=value))
            return None
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if first < 1:
            self.error(node, key, _("page numbers start at 1, got {first}", first=first))
            return None
        if last < first:
            self.error(node, key, _("page range {value!r} runs backwards", value=value),
                       hint=_("write \"{last}-{first}\"", last=last, first=first))
            return None
        return PageRange(first, last)

    def read_image(self, node: yaml.Node, key: str, declared: Key) -> Path | None:
        path = self.read_file(node, key)
        if path is not None:
            problem = check_image(path)
            if problem:
                self.error(node, key, _("image '{file}' {problem}", file=node.value, problem=problem),
                           hint=_("save it again as JPEG or PNG"))
                return None
        return path

    def read_markdown(self, node: yaml.Node, key: str, declared: Key) -> Path | None:
        path = self.read_file(node, key)
        if path is not None and path.suffix.lower() not in (".md", ".markdown"):
            self.error(node, key, _("'{file}' is not a Markdown file", file=node.value),
                       hint=_("articles are .md files with YAML front matter"))
            return None
        return path

    def read_flag(self, node: yaml.Node, key: str, declared: Key) -> bool | None:
        value = self.scalar(node, key)
        if not isinstance(value, bool):
            self.error(node, key, _("expected true or false, got {value!r}", value=value))
            return None
        return value

    def read_fillers(self, node: yaml.Node, key: str, declared: Key) -> list[Path] | None:
        """`false` (no 补白 here: an empty list), or the filler file(s) pinned to this place."""
        if isinstance(node, yaml.ScalarNode) and self.scalar(node, key) is False:
            return []
        items = self.sequence(node, key) if isinstance(node, yaml.SequenceNode) else [node]
        paths = [self.read_markdown(item, f"{key}[{i}]" if len(items) > 1 or isinstance(node, yaml.SequenceNode)
                                    else key, declared) for i, item in enumerate(items)]
        return [path for path in paths if path is not None] if all(paths) else None

    def read_barcode(self, node: yaml.Node, key: str, declared: Key) -> str | None:
        digits = (self.read_text(node, key, declared) or "").replace(" ", "").replace("-", "")
        if digits and not _valid_ean13(digits):
            self.error(node, key, _("'{digits}' is not an EAN-13 code", digits=digits), hint=_(declared.hint))
            return None
        return digits

    def read_file(self, node: yaml.Node, key: str) -> Path | None:
        rel = self.read_text(node, key, Key("text"))
        if not rel:
            return None
        path = resolve_inside(self.root, rel)
        if path is None:
            self.error(node, key, _("'{file}' is outside the issue folder", file=rel),
                       hint=_("files of an issue must sit inside its folder; copy the file in and name it relative "
                              "to issue.yaml"))
            return None
        if not path.is_file():
            self.error(node, key, _("'{file}' does not exist", file=rel),
                       hint=_near_miss_hint(path) or _("paths are relative to the folder that holds issue.yaml"))
            return None
        return path

    # -- YAML structure ----------------------------------------------------------------------------

    def mapping(self, node: yaml.Node | None, key: str, known: set[str]) -> Entries | None:
        """The mapping's entries by key name; None when the node is not a mapping."""
        if node is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.error(node, key or _("(top level)"), _("expected a mapping, got {kind}", kind=_kind(node)))
            return None
        entries: Entries = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            child = f"{key}.{name}" if key else name
            if name in entries:
                self.error(key_node, child, _("duplicate key"), hint=_("a key may appear once; delete one of the two"))
                continue
            entries[name] = (value_node, key_node)
            if name not in known:
                self._unknown(key_node, child, name, known)
        return entries

    def _unknown(self, key_node: yaml.Node, key: str, name: str, known: set[str]) -> None:
        """Unknown keys warn (errors with --strict)."""
        message = _("unknown key '{name}'", name=name)
        hint = _("known keys here: {keys}", keys=", ".join(sorted(known)))
        if self.strict:
            self.error(key_node, key, message, hint)
        else:
            self.diagnostics.warning(message, hint=hint, **self.where(key_node, key))

    def sequence(self, node: yaml.Node | None, key: str) -> list[yaml.Node]:
        if node is None or _is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, key, _("expected a list, got {kind}", kind=_kind(node)))
            return []
        return list(node.value)

    def scalar(self, node: yaml.Node | None, key: str):
        if node is None or _is_null(node):
            return None
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, key, _("expected a single value, got {kind}", kind=_kind(node)))
            return None
        return self._constructor.construct_object(node)


def resolve_inside(root: Path, rel: str) -> Path | None:
    """`rel` resolved against `root`, or None when it leaves `root` (.., absolute paths, symlinks out)."""
    if rel.startswith(("/", "\\")) or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", rel):
        return None
    path = (root / rel).resolve()
    if path != root.resolve() and root.resolve() not in path.parents:
        return None
    return path


def _near_miss_hint(path: Path) -> str | None:
    folder = path.parent
    if not folder.is_dir():
        return None
    stem = path.stem.split("-")[0]
    similar = sorted(p.name for p in folder.iterdir() if p.name.split("-")[0] == stem and p.name != path.name)
    return _("did you mean '{name}'?", name=similar[0]) if similar else None


def _valid_ean13(digits: str) -> bool:
    if not digits.isdigit() or len(digits) not in (12, 13):
        return False
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits[:12])) % 10) % 10
    return len(digits) == 12 or int(digits[12]) == check


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return _("a mapping")
    if isinstance(node, yaml.SequenceNode):
        return _("a list")
    return {
        "tag:yaml.org,2002:int": _("a number"),
        "tag:yaml.org,2002:float": _("a number"),
        "tag:yaml.org,2002:bool": _("true/false"),
        "tag:yaml.org,2002:null": _("nothing"),
    }.get(node.tag, f"'{node.value}'")
