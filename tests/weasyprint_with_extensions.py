"""A pytest plugin for WeasyPrint's own test suite: typeset's extensions installed before it runs
(`pytest -p weasyprint_with_extensions`, from tests/test_weasyprint_suite.py)."""

from typeset import install_weasyprint_extensions


def pytest_configure(config):
    install_weasyprint_extensions()
