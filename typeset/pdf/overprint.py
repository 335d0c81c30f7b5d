"""Black overprint: text and rules in pure black (CMYK 0 0 0 100) are printed over what lies
beneath them instead of knocking it out, as InDesign's [Black] does, so a slight misregistration
leaves no white halo around small type.

The print files' content streams are rewritten: the fill and stroke colours are followed through
the graphics state (q/Q), and before each painting operator (text shown, paths filled or
stroked) an ExtGState sets overprint (/op for fills, /OP for strokes, /OPM 1) exactly when the
colour in use is pure K. Nothing is drawn differently on screen; only separations change.
The body's pages are rewritten once, as WeasyPrint paints them for their part
(`overprint_painted`): the layout cache keeps them so, and a build rewrites only the pages of
the covers and contents (`overprint_black`, on the file).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pikepdf
import pydyf

TEXT = {"Tj", "TJ", "'", '"'}
FILLS = {"f", "F", "f*"}
STROKES = {"S", "s"}
BOTH = {"B", "B*", "b", "b*"}
PAINTING = TEXT | FILLS | STROKES | BOTH
COLOUR = {"k", "K", "g", "G", "rg", "RG", "cs", "CS", "sc", "scn", "SC", "SCN", "gs"}  # what `after` follows
PURE_K = (0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class ColourState:
    fill_space: str = "/DeviceGray"
    fill: tuple = (0.0,)
    stroke_space: str = "/DeviceGray"
    stroke: tuple = (0.0,)
    overprint: tuple[bool, bool] = (False, False)  # (fills, strokes) as last set by us or the file

    def black(self, stroking: bool) -> bool:
        space, colour = (self.stroke_space, self.stroke) if stroking else (self.fill_space, self.fill)
        return space == "/DeviceCMYK" and tuple(colour) == PURE_K


def overprint_states(pdf: pikepdf.Pdf) -> dict:
    """The four overprint graphics states (fills, strokes) of a file, made once and shared by its pages."""
    return {(fill, stroke): pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.ExtGState, op=fill, OP=stroke, OPM=1)) for fill, stroke in _STATES}


_STATES = [(fill, stroke) for fill in (False, True) for stroke in (False, True)]  # (fills, strokes) overprint


def overprint_painted(stream) -> None:
    """A page WeasyPrint has just painted for a part of the body (`body.engine.write_part`)
    made to overprint pure black, and the forms it draws: what `overprint_black` does to the
    page in the file, done to the content before it is written. WeasyPrint writes one operator
    an item, last (`pydyf.Stream.stream`), so no content stream is parsed, written again and
    compressed twice (a fifth of writing a part)."""
    pending = [stream]
    while pending:
        holder = pending.pop()
        resources = holder._resources
        extgstates = resources["ExtGState"]
        for fill, stroke in _STATES:  # the pages of a document share their resources: added once
            extgstates.setdefault(_state_name(fill, stroke)[1:], pydyf.Dictionary(
                {"Type": "/ExtGState", "op": _PDF_BOOL[fill], "OP": _PDF_BOOL[stroke], "OPM": 1}))
        holder.stream = _with_overprint(holder.stream, _painted_operator, _painted_operands,
                                        lambda wanted: b"%s gs" % _state_name(*wanted).encode(),
                                        _PainterStates(extgstates))
        for xobject in resources["XObject"].values():
            # the pages of a document share their resources: a form is rewritten with the page that drew it
            if isinstance(xobject, pydyf.Stream) and xobject.extra.get("Subtype") == "/Form" \
                    and not getattr(xobject, "typeset_overprinted", False):
                xobject.typeset_overprinted = True
                pending.append(xobject)


_PDF_BOOL = {False: "false", True: "true"}


class _PainterStates:
    """A painter's ExtGState resources (pydyf, names without their slash) as `after` reads
    the file's: by name, each a mapping of /Key -> value."""

    def __init__(self, extgstates):
        self.extgstates = extgstates

    def get(self, name, default=None):
        state = self.extgstates.get(str(name).lstrip("/"))
        if not isinstance(state, dict):
            return default
        return {f"/{key}": _painted_value(value) for key, value in state.items()}


def _painted_value(value):
    return value == "true" if value in ("true", "false") else value


def _painted_operator(item) -> str | None:
    """The operator of an item WeasyPrint paints (None: a property list, an operand of the next)."""
    if isinstance(item, bytes):
        return item.rpartition(b" ")[2].decode("latin-1")
    return item.rpartition(" ")[2] if isinstance(item, str) else None


def _painted_operands(item) -> list[str]:
    text = item.decode("latin-1") if isinstance(item, bytes) else item
    return text.split()[:-1]


def overprinted(page) -> bool:
    """Whether the page was rewritten by `overprint_black` already (in its part)."""
    states = page.obj.get("/Resources", pikepdf.Dictionary()).get("/ExtGState")
    return isinstance(states, pikepdf.Dictionary) and _state_name(False, False) in states


def share_states(page, states: dict) -> None:
    """The overprint states of a page linked from a part (each part brings its four) replaced, in
    the page and the forms it draws, by `states`, the linked file's own."""
    pending, done = [page.obj], set()
    while pending:
        resources = pending.pop().get("/Resources", pikepdf.Dictionary())
        extgstates = resources.get("/ExtGState", pikepdf.Dictionary())
        for (fill, stroke), state in states.items():
            if _state_name(fill, stroke) in extgstates:
                extgstates[_state_name(fill, stroke)] = state
        for xobject in resources.get("/XObject", pikepdf.Dictionary()).values():
            if xobject.get("/Subtype") == "/Form" and xobject.objgen not in done:
                done.add(xobject.objgen)
                pending.append(xobject)


def _state_name(fill: bool, stroke: bool) -> str:
    return f"/TSop{int(fill)}{int(stroke)}"


def overprint_black(pdf: pikepdf.Pdf, page, states: dict) -> None:
    """Rewrite a page of `pdf` (and the forms drawn on it) so pure black overprints, with the
    file's `overprint_states`. Done before the crop marks are added: they stay streams of their
    own, in registration colour."""
    _rewrite(pdf, page.obj, states, set())


def _rewrite(pdf: pikepdf.Pdf, holder, states: dict, done: set) -> None:
    """The content of a page or form XObject, and of the forms it draws."""
    resources = holder.get("/Resources")
    if resources is None:
        holder.Resources = resources = pikepdf.Dictionary()
    extgstates = resources.get("/ExtGState")
    if extgstates is None:
        resources.ExtGState = extgstates = pikepdf.Dictionary()
    names = {}
    for (fill, stroke), state in states.items():
        name = _state_name(fill, stroke)
        extgstates[name] = state
        names[(fill, stroke)] = pikepdf.Name(name)
    instructions = _with_overprint(pikepdf.parse_content_stream(holder), _parsed_operator, _parsed_operands,
                                   lambda wanted: pikepdf.ContentStreamInstruction([names[wanted]], pikepdf.Operator("gs")),
                                   extgstates)
    data = pikepdf.unparse_content_stream(instructions)
    if isinstance(holder, pikepdf.Stream):
        holder.write(data)
    else:
        holder.Contents = pdf.make_stream(data)
    for xobject in resources.get("/XObject", pikepdf.Dictionary()).values():
        if xobject.get("/Subtype") == "/Form" and xobject.objgen not in done:
            done.add(xobject.objgen)
            _rewrite(pdf, xobject, states, done)


def _parsed_operator(instruction) -> str:
    return str(instruction.operator)


def _parsed_operands(instruction):
    return instruction.operands


def _with_overprint(items, operator_of, operands_of, set_state, extgstates) -> list:
    """The items of a content stream (parsed instructions, or what WeasyPrint paints), with
    `set_state((fills, strokes))` put before each painting operator whose colour's overprint
    differs from the state in force: the colours followed through q/Q, pure black overprinting.
    `operator_of(item)` and `operands_of(item)` read an item; `extgstates` are the resources'."""
    out = []
    state, stack = ColourState(), []
    for item in items:
        op = operator_of(item)
        if op == "q":
            stack.append(state)
        elif op == "Q" and stack:
            state = stack.pop()
        elif op in PAINTING:
            wanted = (state.black(False), state.black(True))
            if op in TEXT or op in FILLS:
                wanted = (wanted[0], state.overprint[1])
            elif op in STROKES:
                wanted = (state.overprint[0], wanted[1])
            if wanted != state.overprint:
                out.append(set_state(wanted))
                state = replace(state, overprint=wanted)
        elif op in COLOUR:
            state = after(state, op, operands_of(item), extgstates)
        out.append(item)  # as it is: most of a page is text positioning, passed through
    return out


def after(state: ColourState, op: str, operands, extgstates) -> ColourState:
    """The state after a colour or graphics-state operator."""
    values = tuple(float(v) for v in operands if _is_number(v))
    if op == "k":
        return replace(state, fill_space="/DeviceCMYK", fill=values)
    if op == "K":
        return replace(state, stroke_space="/DeviceCMYK", stroke=values)
    if op in ("g", "rg"):
        return replace(state, fill_space="/DeviceGray" if op == "g" else "/DeviceRGB", fill=values)
    if op in ("G", "RG"):
        return replace(state, stroke_space="/DeviceGray" if op == "G" else "/DeviceRGB", stroke=values)
    if op == "cs":
        return replace(state, fill_space=str(operands[0]), fill=())
    if op == "CS":
        return replace(state, stroke_space=str(operands[0]), stroke=())
    if op in ("sc", "scn"):
        return replace(state, fill=values)
    if op in ("SC", "SCN"):
        return replace(state, stroke=values)
    if op == "gs":
        gstate = extgstates.get(operands[0])
        if gstate is not None and ("/OP" in gstate or "/op" in gstate):
            stroke = bool(gstate.get("/OP", False))
            return replace(state, overprint=(bool(gstate.get("/op", stroke)), stroke))
    return state


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
