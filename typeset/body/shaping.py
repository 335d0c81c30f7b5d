"""Pango's set-up of a text layout, made once for all the layouts that ask for the same.

WeasyPrint 70 sets up every text layout from nothing (`Layout.setup`): a Pango context, its
language, a font description. It does so for each piece of text it tries while breaking lines
and again for each line it draws: some 7,000 set-ups for the reference issue's 25 articles laid
out once, 7 % of the layout and of the drawing. The context depends only on the font map, the
direction and the language, the description only on the font's properties; a layout keeps a
reference to its context and a copy of the description. So they are kept (the contexts with
their font configuration, which holds the font map) and never changed after they are made:
every layout sees what a fresh set-up would give it. What a layout changes of its own (its
attributes: letter spacing, the font features) is made for it, as WeasyPrint makes it.

Pinned to WeasyPrint 70 (`Layout.setup` in text/line_break.py), as `justify` is.
"""

from __future__ import annotations

from functools import lru_cache

from weasyprint.text.constants import LST_TO_ISO, PANGO_DIRECTION
from weasyprint.text.ffi import FROM_UNITS, ffi, gobject, pango, unicode_to_char_p
from weasyprint.text.fonts import font_features, get_font_description
from weasyprint.text.line_break import Layout

_DESCRIPTIONS_KEPT = 512  # font descriptions: a build asks for a few dozen (sizes, weights, families)
_descriptions: dict[tuple, object] = {}


@lru_cache(maxsize=1)
def install() -> None:
    _setup.weasyprint = Layout.setup  # WeasyPrint's own, which the tests compare with
    Layout.setup = _setup


def _setup(self, style) -> None:
    """`Layout.setup` of WeasyPrint 70, with its context and font description kept."""
    self.style = style
    self.first_line_direction = 0
    self.language, pango_context = _context(style)
    self.layout = ffi.gc(pango.pango_layout_new(pango_context), gobject.g_object_unref)
    pango.pango_layout_set_auto_dir(self.layout, False)
    font_description = _description(style)
    pango.pango_layout_set_font_description(self.layout, font_description)  # Pango copies it
    if style["text_decoration_line"] != "none":
        metrics = ffi.gc(pango.pango_context_get_metrics(pango_context, font_description, self.language),
                         pango.pango_font_metrics_unref)
        self.ascent = FROM_UNITS * pango.pango_font_metrics_get_ascent(metrics)
        self.underline_position = FROM_UNITS * pango.pango_font_metrics_get_underline_position(metrics)
        self.strikethrough_position = FROM_UNITS * pango.pango_font_metrics_get_strikethrough_position(metrics)
        self.underline_thickness = FROM_UNITS * pango.pango_font_metrics_get_underline_thickness(metrics)
        self.strikethrough_thickness = FROM_UNITS * pango.pango_font_metrics_get_strikethrough_thickness(metrics)
    else:
        self.ascent = self.underline_position = self.strikethrough_position = None
    features = font_features(
        style["font_kerning"], style["font_variant_ligatures"], style["font_variant_position"],
        style["font_variant_caps"], style["font_variant_numeric"], style["font_variant_alternates"],
        style["font_variant_east_asian"], style["font_feature_settings"])
    if features:
        features = ",".join(f"{key} {value}" for key, value in features.items()).encode()
        attr = style.font_config.font_features.setdefault(features, pango.pango_attr_font_features_new(features))
        # the layout's own list: setting its text adds letter spacing to it
        attr_list = pango.pango_attr_list_new()
        pango.pango_attr_list_insert(attr_list, attr)
        pango.pango_layout_set_attributes(self.layout, attr_list)


def _context(style) -> tuple:
    """(the language, the Pango context) for the style's font map, direction and language."""
    if style["font_language_override"] != "normal":
        language = LST_TO_ISO.get(style["font_language_override"].lower(), style["font_language_override"])
    else:
        language = style["lang"] or None
    kept = style.font_config.__dict__.setdefault("_typeset_contexts", {})
    key = (style["direction"], language)
    if key not in kept:
        context = ffi.gc(pango.pango_font_map_create_context(style.font_config.font_map), gobject.g_object_unref)
        pango.pango_context_set_round_glyph_positions(context, False)
        pango.pango_context_set_base_dir(context, PANGO_DIRECTION[style["direction"]])
        if language:
            language_p, _language = unicode_to_char_p(language)
            pango_language = pango.pango_language_from_string(language_p)  # Pango's own: never freed
            pango.pango_context_set_language(context, pango_language)
        else:
            pango_language = pango.pango_language_get_default()
        kept[key] = (pango_language, context)
    return kept[key]


def _description(style):
    """The font description of the style (WeasyPrint's `get_font_description`), kept."""
    key = (tuple(style["font_family"]), style["font_style"], style["font_stretch"], style["font_weight"],
           style["font_size"], style["font_variant_caps"],
           style["font_variation_settings"] if style["font_variation_settings"] == "normal"
           else tuple(map(tuple, style["font_variation_settings"])))
    found = _descriptions.get(key)
    if found is None:
        if len(_descriptions) >= _DESCRIPTIONS_KEPT:
            _descriptions.clear()
        found = _descriptions[key] = get_font_description(style)
    return found
