"""Does a feedback file show a line of a hidden test or a mark scheme, plainly or encoded?

The secrets are the lines of the source notebooks' hidden-test and mark-scheme
regions that no student version shows. A file's visible text is searched as it
is and as a student could have encoded it in their own output: base64 and hex
runs decoded, rot13, reversed. A secret line counts when a line of the page is
that line (as code, or as a traceback shows it); a long one (20 characters or
more) also inside a longer line. A line the student submitted is theirs even
when a hidden test holds the same text.
"""
import base64
import binascii
import codecs
import html
import re

import nbformat

from grader.plugins import regions

MIN_SECRET_LENGTH = 6
MIN_EMBEDDED_LENGTH = 20
TRACEBACK_PREFIX = re.compile(r"^(-*>\s*)?\d+\s+")
BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2}){8,}")


def normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def release_lines(course, assignment) -> set:
    """Every line the student versions show (never a secret)."""
    visible = set()
    for path in sorted(course.release(assignment).glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            visible.update(normal(line) for line in cell.source.splitlines())
    return visible


def secret_lines(course, assignment) -> dict:
    """{line: where} for the hidden-test and mark-scheme lines no student version shows."""
    visible = release_lines(course, assignment)
    secrets = {}
    for path in sorted(course.source(assignment).glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            grade_id = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id") or "?"
            for markers, kind in ((regions.HIDDEN, "hidden test"), (regions.MARK_SCHEME, "mark scheme")):
                _, removed, _ = regions.split(cell.source, markers)
                for line in removed.splitlines():
                    text = normal(line)
                    if len(text) >= MIN_SECRET_LENGTH and text not in visible:
                        secrets.setdefault(text, f"{path.stem}:{grade_id} ({kind})")
    return secrets


def visible_lines(document: str) -> list:
    """The text of an HTML file, line by line (tags stripped, entities decoded, whitespace collapsed)."""
    document = re.sub(r"<(script|style)\b.*?</\1>", " ", document, flags=re.S | re.I)
    return [normal(line) for line in html.unescape(re.sub(r"<[^>]+>", "", document)).splitlines()]


def _decoded(run, decode):
    try:
        return decode(run).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def encodings(lines: list) -> list:
    """The page's lines as they are, and the same text decoded the ways a student could encode it."""
    text = "\n".join(lines)
    found = [lines, [codecs.encode(line, "rot13") for line in lines], [line[::-1] for line in lines]]
    decoded = []
    for run in BASE64_RUN.findall(text):
        run = run.rstrip("=").replace("-", "+").replace("_", "/")
        for start in range(4):  # a run cut short, or not starting at a group of four
            part = run[start:]
            extra = len(part) % 4  # the last group: padded again (1 character alone decodes nothing)
            part = part[:-1] if extra == 1 else part + "=" * ((4 - extra) % 4)
            decoded.append(_decoded(part, base64.b64decode))
    for run in HEX_RUN.findall(text):
        decoded.append(_decoded(run, bytes.fromhex))
    found.append([normal(line) for chunk in decoded for line in chunk.splitlines()])
    return found


def leaks(lines: list, secrets: dict, own=()) -> list:
    """The secret lines shown by `lines` (from visible_lines), in any of `encodings`, outside `own`."""
    own = set(own)
    found = set()
    for variant in encodings(lines):
        shown = set()
        for line in variant:
            bare = TRACEBACK_PREFIX.sub("", line)
            if line and line not in own and bare not in own:
                shown.update((line, bare))
        rest = "\n".join(shown)
        found.update(s for s in secrets if s not in own and (
            s in shown or (len(s) >= MIN_EMBEDDED_LENGTH and s in rest)))
    return sorted(found)
