"""The package as shipped: the manifest's documented keys come from its schema, and an installed
(not editable) typeset carries its house style."""

import shutil
import site
import subprocess
import sys
import zipfile

from conftest import DEMO, REPO, pdf_text_by_page

from typeset.inputs.schema import manifest_reference


def test_the_readme_lists_the_manifest_keys_the_schema_declares():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"```yaml\n{manifest_reference()}```" in readme


def test_an_installed_typeset_builds_an_issue_from_any_folder(tmp_path):
    # built from a copy of the sources, so the checkout gets no build/ folder and nothing stale goes in
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("typeset", "layout", "styles", "fonts"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "wheel"), str(source)], check=True, capture_output=True)
    installed = tmp_path / "installed"
    with zipfile.ZipFile(next((tmp_path / "wheel").glob("typeset-*.whl"))) as wheel:
        wheel.extractall(installed)
    issue = tmp_path / "elsewhere" / "demo"  # not under a project: only the packaged house style applies
    shutil.copytree(DEMO, issue, ignore=shutil.ignore_patterns("build"))
    # -S: without site, the editable install of the checkout is not seen; the dependencies come
    # from this environment's site-packages on the path
    env = {"PYTHONPATH": ":".join([str(installed), *site.getsitepackages()]), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    where = subprocess.run([sys.executable, "-S", "-c", "import typeset.inputs.house as h; print(h.package_defaults())"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert where.stdout.strip() == str(installed / "typeset" / "house")
    built = subprocess.run([sys.executable, "-S", "-m", "typeset", "build", str(issue), "-o", str(tmp_path / "out"),
                            "-q"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    pages = pdf_text_by_page(tmp_path / "out" / "issue.pdf")
    assert len(pages) == 10 and "一本杂志是怎样排出来的" in "".join(pages)
    # the catalogs are installed too: the interface speaks Chinese
    chinese = subprocess.run([sys.executable, "-S", "-m", "typeset", "build", str(tmp_path / "nowhere")],
                             capture_output=True, text=True, env={**env, "TYPESET_LANG": "zh_CN"}, cwd=tmp_path)
    assert chinese.stderr.splitlines()[-1] == "错误：输入有 1 处问题；未写出任何文件"


def test_weasyprint_opens_its_libraries_by_soname_without_searching(tmp_path):
    """Imported after typeset, WeasyPrint opens its libraries without `ctypes.util.find_library`
    (which runs ldconfig, gcc and ld for every name it tries), and the lookup is put back after."""
    code = """if True:
        import ctypes.util
        searched = []
        def find_library(name):
            searched.append(name)
            return None
        ctypes.util.find_library = find_library
        import typeset, weasyprint
        from weasyprint.text.ffi import pango
        maps = open('/proc/self/maps').read()
        print(searched, ctypes.util.find_library is find_library, pango.pango_version() > 0,
              all(name in maps for name in ('libpango-1.0.so', 'libharfbuzz.so', 'libfontconfig.so')))
    """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert result.stdout.split() == ["[]", "True", "True", "True"]
