"""Black overprint: text and rules in pure black (CMYK 0 0 0 100) are printed over what lies
beneath them instead of knocking it out, as InDesign's [Black] does, so a slight misregistration
leaves no white halo around small type.

The print files' content streams are rewritten: the fill and stroke colours are followed through
the graphics state (q/Q), and before each painting operator (text shown, paths filled or
stroked) an ExtGState sets overprint (/op for fills, /OP for strokes, /OPM 1) exactly when the
colour in use is pure K. Nothing is drawn differently on screen; only separations change.
The body's pages are rewritten once, in their part (`overprint_part`): the layout cache keeps
them so, and a build rewrites only the pages of the covers and contents.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import pikepdf

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
        Type=pikepdf.Name.ExtGState, op=fill, OP=stroke, OPM=1)) for fill in (False, True) for stroke in (False, True)}


def overprint_part(data: bytes) -> bytes:
    """A part of the body (`body.engine.write_part`) with pure black overprinting on its pages."""
    pdf = pikepdf.open(io.BytesIO(data))
    states = overprint_states(pdf)
    for page in pdf.pages:
        overprint_black(pdf, page, states)
    buffer = io.BytesIO()
    pdf.save(buffer, compress_streams=True, deterministic_id=True)
    return buffer.getvalue()


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
    instructions = _with_overprint(pikepdf.parse_content_stream(holder), names, extgstates)
    data = pikepdf.unparse_content_stream(instructions)
    if isinstance(holder, pikepdf.Stream):
        holder.write(data)
    else:
        holder.Contents = pdf.make_stream(data)
    for xobject in resources.get("/XObject", pikepdf.Dictionary()).values():
        if xobject.get("/Subtype") == "/Form" and xobject.objgen not in done:
            done.add(xobject.objgen)
            _rewrite(pdf, xobject, states, done)


def _with_overprint(instructions, names: dict, extgstates) -> list:
    out = []
    state, stack = ColourState(), []
    for instruction in instructions:
        operands, operator = instruction
        op = str(operator)
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
                out.append(pikepdf.ContentStreamInstruction([names[wanted]], pikepdf.Operator("gs")))
                state = replace(state, overprint=wanted)
        elif op in COLOUR:
            state = after(state, op, operands, extgstates)
        out.append(instruction)  # as parsed: most of a page is text positioning, passed through
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
