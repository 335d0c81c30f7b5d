"""Font roles: resolution through the house search path, collection faces, coverage."""

import shutil
from pathlib import Path

from conftest import MINIMAL_MANIFEST, article, write_issue
from fontTools.ttLib import TTFont

from typeset.inputs.issue import check_coverage
from typeset.diagnostics import Diagnostics
from typeset.inputs.articles import read_articles
from typeset.inputs.fonts import load_fonts
from typeset.inputs.house import find_house
from typeset.inputs.manifest import load_manifest


def fonts_for(issue: Path):
    diagnostics = Diagnostics()
    house = find_house(issue, "issue")
    dirs = house.dirs("fonts")
    return load_fonts(dirs, {d: house.shown(d) for d in dirs}, diagnostics), diagnostics


def test_house_roles_resolve_to_single_simplified_chinese_faces(minimal_issue):
    fonts, diagnostics = fonts_for(minimal_issue)
    assert diagnostics.items == []
    assert set(fonts.roles) >= {"song", "hei", "kai", "title"}
    song = fonts.roles["song"]
    assert [f.weight for f in song.faces] == [400, 700]
    regular = song.faces[0]
    assert regular.source.suffix == ".ttc"  # Debian ships Noto CJK as collections…
    font = TTFont(regular.file)  # …and the face handed to WeasyPrint is the SC one alone
    assert font["name"].getDebugName(1) == "Noto Serif CJK SC"
    assert fonts.stack("kai") == ["kai", "song"]
    css = fonts.css()
    assert f'@font-face {{ font-family: "song"; src: url("{regular.file.as_uri()}"); font-weight: 400;' in css
    assert '--font-kai: "kai", "song"' in css


def test_issue_fonts_override_a_role(minimal_issue):
    wenkai = Path("/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf")
    (minimal_issue / "fonts").mkdir()
    shutil.copy(wenkai, minimal_issue / "fonts" / "House-Song.ttf")
    (minimal_issue / "fonts" / "fonts.yaml").write_text(
        "roles:\n  song:\n    family: LXGW WenKai\n    faces: {400: House-Song.ttf}\n", encoding="utf-8")
    fonts, diagnostics = fonts_for(minimal_issue)
    assert diagnostics.items == []
    assert fonts.roles["song"].faces[0].file == (minimal_issue / "fonts" / "House-Song.ttf").resolve()
    assert fonts.roles["hei"].family == "Noto Sans CJK SC"  # roles it does not name stay the house's


def test_missing_font_names_role_and_debian_package(minimal_issue):
    (minimal_issue / "fonts").mkdir()
    (minimal_issue / "fonts" / "fonts.yaml").write_text(
        "roles:\n  title:\n    family: FZXiaoBiaoSong-B05S\n    package: fonts-fz-xiaobiaosong\n"
        "    faces: {400: FZXBSK.TTF}\n", encoding="utf-8")
    fonts, diagnostics = fonts_for(minimal_issue)
    assert fonts is None
    assert [d.format() for d in diagnostics.errors] == [
        "issue/fonts/fonts.yaml roles.title.faces.400: font file 'FZXBSK.TTF' for role 'title' "
        "(FZXiaoBiaoSong-B05S) not found\n"
        "  hint: install the Debian package fonts-fz-xiaobiaosong: apt-get install fonts-fz-xiaobiaosong "
        "(searched fonts/ folders and /usr/share/fonts, /usr/local/share/fonts, ~/.local/share/fonts, ~/.fonts)"]


def test_wrong_family_in_file_is_reported(minimal_issue):
    (minimal_issue / "fonts").mkdir()
    (minimal_issue / "fonts" / "fonts.yaml").write_text(
        "roles:\n  kai:\n    family: KaiTi\n    faces: {400: LXGWWenKai-Regular.ttf}\n", encoding="utf-8")
    fonts, diagnostics = fonts_for(minimal_issue)
    assert fonts is None
    assert diagnostics.errors[0].message == ("font file 'LXGWWenKai-Regular.ttf' for role 'kai': holds "
                                             "LXGW WenKai, not KaiTi")


def test_uncovered_characters_are_reported_with_article_and_line(tmp_path):
    root = write_issue(tmp_path / "issue", MINIMAL_MANIFEST, {
        "articles/a.md": article(body="第一段。\n\n第二段有一个古字\U00010400和私用区字符\ue000。")})
    diagnostics = Diagnostics()
    manifest = load_manifest(root, diagnostics, display_root="issue")
    articles = read_articles(manifest, diagnostics)
    fonts, _ = fonts_for(root)
    check_coverage(articles, fonts, diagnostics)
    assert [d.format() for d in diagnostics.errors] == [
        "issue/articles/a.md:7 character '\U00010400' (U+10400) is in no font of role 'song' (Noto Serif CJK SC) "
        "or its fallbacks\n  hint: replace the character, or add a font that has it as a fallback in fonts/fonts.yaml",
        "issue/articles/a.md:7 character '\ue000' (U+E000) is in no font of role 'song' (Noto Serif CJK SC) "
        "or its fallbacks\n  hint: replace the character, or add a font that has it as a fallback in fonts/fonts.yaml",
    ]


def test_coverage_is_remembered_by_the_faces_and_checked_again_for_others(tmp_path):
    """What a resident process's warm-up checked serves its commands (another FontSet of the same
    faces, known by file, size and time); a role set in other faces is checked again."""
    from typeset.inputs.fonts import _uncovered

    issue = write_issue(tmp_path / "issue", MINIMAL_MANIFEST, {"articles/a.md": article()})
    text = "覆盖检查\U00010400"
    first, _ = fonts_for(issue)
    assert first.uncovered("song", text) == ["\U00010400"]
    hits = _uncovered.cache_info().hits
    second, _ = fonts_for(issue)
    assert second.uncovered("song", text) == ["\U00010400"]
    assert _uncovered.cache_info().hits == hits + 1
    own = tmp_path / "issue" / "fonts"  # the role's face now the issue's own, another font
    own.mkdir()
    shutil.copy("/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf", own / "House-Song.ttf")
    (own / "fonts.yaml").write_text("roles:\n  song:\n    family: LXGW WenKai\n    faces: {400: House-Song.ttf}\n",
                                    encoding="utf-8")
    third, _ = fonts_for(issue)
    assert third.roles["song"].stamps() != second.roles["song"].stamps()
    assert third.uncovered("song", text) == ["\U00010400"]
    assert _uncovered.cache_info().hits == hits + 1
