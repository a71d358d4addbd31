"""`MathAsMathML` (generate_feedback): the formulas of markdown cells typeset without internet.

nbconvert's HTML leaves `$...$` and `$$...$$` for MathJax, which it loads from a CDN:
a student who opens the feedback file offline sees raw LaTeX. Here each formula is
turned into MathML (latex2mathml, pure Python), which browsers draw by themselves.
Code spans and fenced code are left alone; a formula that does not convert (or is
absurdly long) stays as it was. The MathML is parsed and written again from a
whitelist of MathML elements and attributes (a student's `\\text{<script>}` is no
tag), its text as character references, so that the Markdown renderer passes it
through untouched.
"""
import re
from xml.etree import ElementTree

from latex2mathml.converter import convert
from nbgrader.preprocessors import NbGraderPreprocessor

#: Code (fenced or inline) first, so that a `$` inside code is never taken for math.
PIECES = re.compile(r"(?P<fence>^```.*?^```)|(?P<code>`[^`\n]*`)|\$\$(?P<block>.+?)\$\$|\$(?P<inline>[^$\n]+?)\$",
                    re.S | re.M)
LONGEST = 2000
#: MathML Core's elements and the attributes latex2mathml writes: anything else rejects the formula.
ELEMENTS = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac",
            "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded",
            "mphantom", "menclose", "merror", "semantics", "annotation", "mmultiscripts", "mprescripts", "none"}
ATTRIBUTES = {"xmlns", "display", "stretchy", "mathvariant", "fence", "separator", "lspace", "rspace", "accent",
              "accentunder", "columnalign", "columnlines", "columnspacing", "rowspacing", "rowlines", "frame",
              "displaystyle", "scriptlevel", "width", "height", "depth", "linethickness", "notation", "minsize",
              "maxsize", "movablelimits", "symmetric", "largeop", "form", "encoding", "class"}
XMLNS = "{http://www.w3.org/1998/Math/MathML}"


def _text(text) -> str:
    """Text as character references wherever Markdown or HTML would read something into it."""
    return "".join(ch if ch.isalnum() or ch == " " else f"&#{ord(ch)};" for ch in (text or "").replace("\n", " "))


def _written(element) -> str:
    """The element again, from the whitelist only (ValueError for anything else)."""
    tag = element.tag.replace(XMLNS, "")
    if tag not in ELEMENTS:
        raise ValueError(tag)
    unknown = set(element.attrib) - ATTRIBUTES
    if unknown:
        raise ValueError(unknown)
    attributes = "".join(f' {name}="{_text(value)}"' for name, value in element.attrib.items())
    if tag == "math":
        attributes = ' xmlns="http://www.w3.org/1998/Math/MathML"' + attributes
    inner = _text(element.text) + "".join(_written(child) + _text(child.tail) for child in element)
    return f"<{tag}{attributes}>{inner}</{tag}>"


def to_mathml(tex: str, display: bool):
    """The MathML of one formula, or None when it does not convert."""
    if len(tex) > LONGEST:
        return None
    try:
        return _written(ElementTree.fromstring(convert(tex.strip(), display="block" if display else "inline")))
    except Exception:  # noqa: BLE001 (RecursionError included: a formula is text, never a reason to fail)
        return None


def typeset(markdown: str) -> str:
    """Markdown with each formula replaced by its MathML."""
    def replace(match):
        tex = match.group("block") if match.group("block") is not None else match.group("inline")
        if tex is None:
            return match.group(0)
        mathml = to_mathml(tex, display=match.group("block") is not None)
        return mathml if mathml is not None else match.group(0)
    return PIECES.sub(replace, markdown)


class MathAsMathML(NbGraderPreprocessor):
    """Every markdown cell's formulas as MathML, for feedback read offline."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown" and isinstance(cell.source, str) and "$" in cell.source:
            cell.source = typeset(cell.source)
        return cell, resources
