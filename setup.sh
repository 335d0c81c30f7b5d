#!/usr/bin/env bash
# Installs what typeset needs on a fresh Debian/Ubuntu machine: system libraries and fonts
# (apt-get, when root or sudo is available), then the Python venv in .venv/ with the package.
# --test adds what the tests need: Debian's chromium (the browser test of `typeset serve`),
# LibreOffice Writer (the import tests) and the Python test tools. Safe to run again: it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

TEST=0
for argument in "$@"; do
  case "$argument" in
    --test) TEST=1 ;;
    *) echo "usage: ./setup.sh [--test]" >&2; exit 2 ;;
  esac
done

# Pango/HarfBuzz for WeasyPrint (libharfbuzz-subset0: without it font subsetting falls back to
# Python and a 48-page issue is several times slower), the CJK fonts of the house style,
# Ghostscript for the preflight's ink check, and poppler/qpdf for checking PDFs.
APT_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk fonts-noto-cjk-extra
              fonts-lxgw-wenkai ghostscript poppler-utils qpdf)
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  APT_PACKAGES+=(python3-venv)
fi
if ((TEST)); then
  # chromium: the browser test of `typeset serve`; LibreOffice: the import test saves manuscripts
  # formatted by hand as .docx with a real word processor
  APT_PACKAGES+=(chromium libreoffice-writer-nogui)
fi

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=(sudo)
  else
    echo "setup: these system packages are missing; install them and run setup.sh again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# pip's build chatter goes to a log that is shown only when the install fails.
if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
       .venv/bin/python -m pip install --disable-pip-version-check -e "$([ "$TEST" = 1 ] && echo '.[test]' || echo .)"
     } > .venv/setup.log 2>&1; then
  cat .venv/setup.log >&2
  echo "setup: pip install failed (log above, kept in .venv/setup.log)" >&2
  exit 1
fi
# pip compiles the modules of what it installs, but not of an editable install: typeset's own are
# compiled here, or every command compiles them again where Python may not write its cache
# (PYTHONDONTWRITEBYTECODE, a read-only checkout): 0.18 s of each command's imports
.venv/bin/python -m compileall -q typeset
.venv/bin/python -c 'import typeset.cli, weasyprint, pikepdf' # fail here, not in the first build
if ((TEST)); then
  .venv/bin/python -c 'import pytest, pdfplumber, playwright, babel, pdf_oxide'
  # WeasyPrint's own tests (in its source distribution, not its wheel): the test suite runs them
  # with typeset's extensions installed (tests/test_weasyprint_suite.py)
  version=$(.venv/bin/python -c 'import weasyprint; print(weasyprint.__version__)')
  if [ ! -f ".venv/sdist/weasyprint-$version.tar.gz" ]; then
    .venv/bin/python -m pip download --disable-pip-version-check --no-deps --no-binary :all: \
      "weasyprint==$version" -d .venv/sdist > .venv/setup.log 2>&1 || { cat .venv/setup.log >&2; exit 1; }
  fi
fi
echo "setup: ready (.venv/bin/typeset)"
