"""Diagnostics: what went wrong, where, and what to do about it.

Every stage collects diagnostics instead of raising at the first problem, so a
person sees all the errors of an input at once. A stage that cannot go on
raises `InputError` carrying everything gathered so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .i18n import _


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" or "warning"
    message: str
    file: str | None = None  # path as shown to the user
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    key: str | None = None  # e.g. sections[2].articles[0].file
    hint: str | None = None
    page: int | None = None  # 1-based page of a PDF (preflight findings)

    def location(self) -> str:
        parts = [self.file] if self.file else []
        if self.file and self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def headline(self) -> str:
        prefix = " ".join(p for p in (self.location(), self.key and f"{self.key}:") if p)
        return f"{prefix} {self.message}" if prefix else self.message

    def format(self) -> str:
        text = self.headline()
        if self.severity == "warning":
            text = _("warning: {text}", text=text)
        if self.hint:
            text += "\n" + _("  hint: {hint}", hint=self.hint)
        return text

    def as_json(self) -> dict:
        return {
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "key": self.key,
            "hint": self.hint,
            "text": self.headline(),
        }


@dataclass
class Diagnostics:
    """An ordered collection of diagnostics shared by the stages of one run."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, message: str, **where) -> None:
        self.items.append(Diagnostic("error", message, **where))

    def warning(self, message: str, **where) -> None:
        self.items.append(Diagnostic("warning", message, **where))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise InputError(self)


class InputError(Exception):
    """The input cannot be built; `diagnostics` says why (exit code 1)."""

    def __init__(self, diagnostics: Diagnostics):
        super().__init__("\n".join(d.format() for d in diagnostics.errors))
        self.diagnostics = diagnostics


class OutputError(Exception):
    """The outputs could not be written; `diagnostics` says where and why."""

    def __init__(self, diagnostics: Diagnostics):
        super().__init__("\n".join(d.format() for d in diagnostics.errors))
        self.diagnostics = diagnostics
