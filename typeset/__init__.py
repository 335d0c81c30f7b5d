"""typeset: a print-layout pipeline for Chinese periodicals."""

import sys


def install_weasyprint_extensions() -> None:
    """Install every extension typeset makes to WeasyPrint: inter-character justification of
    Chinese lines, font subsetting on all cores, the article being set shown as progress.
    Idempotent; refuses a WeasyPrint version the extensions were not written for."""
    from .body.engine import install_extensions

    install_extensions()


class _LibrariesBySoname:
    """WeasyPrint opens GObject, Pango, HarfBuzz and fontconfig by trying several names for each,
    the library's soname last (`libpango-1.0.so.0`). On Linux the first names fail, and for each
    cffi asks `ctypes.util.find_library`, which runs ldconfig, gcc and ld: 22 lookups, 0.25 s of
    the start of every process that imports WeasyPrint (WeasyPrint issue #1125). While WeasyPrint's
    `text.ffi` is imported they answer "not found" at once, and the sonames are opened: the
    libraries the lookups would have named (they name them by soname), found by the system's
    loader as before. Nothing else is touched; the finder goes once that module is found."""

    def find_spec(self, name, path=None, target=None):
        if name != "weasyprint.text.ffi":
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader.exec_module = _without_library_search(spec.loader.exec_module)
        return spec


def _without_library_search(exec_module):
    def run(module):
        import ctypes.util

        find_library = ctypes.util.find_library
        ctypes.util.find_library = lambda name: None
        try:
            exec_module(module)
        finally:
            ctypes.util.find_library = find_library

    return run


if sys.platform.startswith("linux") and "weasyprint.text.ffi" not in sys.modules:
    sys.meta_path.insert(0, _LibrariesBySoname())
