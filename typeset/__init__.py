"""typeset: a print-layout pipeline for Chinese periodicals."""


def install_weasyprint_extensions() -> None:
    """Install every extension typeset makes to WeasyPrint: inter-character justification of
    Chinese lines, font subsetting on all cores, the article being set shown as progress.
    Idempotent; refuses a WeasyPrint version the extensions were not written for."""
    from .body.engine import install_extensions

    install_extensions()
