"""The bytes of a submitted file to a notebook, or a reason in plain words why it is not one.

A file that nbformat reads as it is comes back exactly as nbformat reads it. Otherwise
each step that made it readable is recorded: another encoding (UTF-16, a byte-order
mark, Windows-1252), nbformat 3 (upgraded by nbformat), cells a broken tool saved
oddly. What cannot be made a notebook raises `NotANotebook` with what the file is
and what the instructor can do.
"""
import json
import uuid

import nbformat

#: What a file starts with, for files that are something else entirely.
MAGIC = [
    (b"PK\x03\x04", "a zip archive (unzip it and submit the .ipynb inside)"),
    (b"\x1f\x8b", "a gzip archive (unpack it and submit the .ipynb inside)"),
    (b"%PDF", "a PDF document (the notebook printed or exported, not the notebook itself)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
]
ASK_AGAIN = "ask the student for the .ipynb file again"
BOMS = [(b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")]
CELL_TYPES = ("code", "markdown", "raw")


class NotANotebook(Exception):
    """The file cannot be graded as a notebook; the message says why, in plain words."""


def read_bytes(data: bytes):
    """(notebook, repairs): a v4 NotebookNode and the list of what was done to read it."""
    repairs = []
    try:
        as_saved = nbformat.reader.reads(data.decode("utf-8"))
        if as_saved.nbformat == 3:
            repairs.append("an nbformat 3 notebook (an old Jupyter), upgraded to nbformat 4")
        notebook = nbformat.convert(as_saved, 4)
        nbformat.validate(notebook)
        return notebook, repairs
    except Exception:  # noqa: BLE001 (anything nbformat refuses gets the careful path below)
        repairs = []
    text = _decode(data, repairs)
    found = _parse(text)
    notebook = _as_notebook(found, repairs)
    try:
        nbformat.validate(notebook)
    except Exception as error:  # noqa: BLE001 (any way of being invalid ends the same)
        raise NotANotebook(f"a notebook file the grader could not repair ({_first_line(error)}): {ASK_AGAIN}")
    return notebook, repairs


def _decode(data: bytes, repairs) -> str:
    if not data.strip():
        raise NotANotebook(f"an empty file ({len(data)} bytes): {ASK_AGAIN}")
    for magic, what in MAGIC:
        if data.startswith(magic):
            raise NotANotebook(f"not a notebook: the file is {what}")
    for bom, codec in BOMS:
        if data.startswith(bom):
            repairs.append(f"the file was saved as {codec.upper().replace('-SIG', ' with a byte-order mark')}; "
                           f"read as such")
            return data.decode(codec, errors="replace")
    for codec in ("utf-16-le", "utf-16-be"):  # UTF-16 without a byte-order mark: JSON starts with "{"
        if data[:64].decode(codec, errors="replace").lstrip().startswith(("{", "[")):
            repairs.append(f"the file was saved as {codec.upper()}; read as such")
            return data.decode(codec, errors="replace")
    if b"\x00" in data or sum(byte < 9 for byte in data[:4096]) > 8:
        raise NotANotebook(f"not a notebook: the file is binary data: {ASK_AGAIN}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    repairs.append("the file was not UTF-8; read as Windows-1252 (accented letters may differ)")
    return data.decode("cp1252", errors="replace")


def _parse(text: str):
    stripped = text.lstrip()
    if stripped[:15].lower().startswith(("<!doctype", "<html")):
        raise NotANotebook("not a notebook: the file is a web page (the notebook saved from the browser as HTML, "
                           f"not downloaded as .ipynb): {ASK_AGAIN}")
    try:
        return json.loads(text)
    except ValueError as error:
        where = f"line {error.lineno}, column {error.colno}" if hasattr(error, "lineno") else "somewhere"
        if stripped.startswith(("{", "[")):
            raise NotANotebook(f"a notebook file that is cut short or damaged (invalid JSON at {where}): "
                               f"{ASK_AGAIN}") from None
        raise NotANotebook(f"not a notebook: the file is text, not a notebook's JSON: {ASK_AGAIN}") from None


def _as_notebook(found, repairs):
    if not isinstance(found, dict) or not isinstance(found.get("cells", found.get("worksheets")), list):
        kind = type(found).__name__ if not isinstance(found, dict) else "an object without cells"
        kind = {"list": "a list", "str": "a string", "int": "a number", "float": "a number",
                "bool": "true/false", "NoneType": "null"}.get(kind, kind)
        raise NotANotebook(f"not a notebook: the file is JSON, but {kind}, not a notebook: {ASK_AGAIN}")
    if "worksheets" in found and "cells" not in found:
        return _upgrade_v3(found, repairs)
    cells, fixed = [], 0
    for cell in found["cells"]:
        repaired, rewritten = _cell(cell)
        fixed += rewritten
        if repaired is not None:
            cells.append(repaired)
    if fixed:
        repairs.append(f"{fixed} cell(s) saved in a form nbformat does not accept were rewritten as plain cells")
    if found.get("nbformat") != 4:
        repairs.append("the file did not say it is nbformat 4; read as nbformat 4")
    notebook = nbformat.v4.new_notebook(cells=[], metadata=_metadata(found.get("metadata"), repairs))
    notebook.cells = [nbformat.from_dict(cell) for cell in cells]
    _unique_ids(notebook)
    return notebook


def _metadata(found, repairs) -> dict:
    """The notebook's metadata, less the entries nbformat refuses (a kernelspec that is a number...)."""
    kept = {}
    for key, value in (found.items() if isinstance(found, dict) else []):
        try:
            nbformat.validate(nbformat.v4.new_notebook(metadata={key: value}))
            kept[key] = value
        except Exception:  # noqa: BLE001
            repairs.append("an entry of the notebook's metadata was not valid; left out")
    return kept


def _upgrade_v3(found, repairs):
    try:
        notebook = nbformat.convert(nbformat.from_dict(found), 4)
    except Exception as error:  # noqa: BLE001
        raise NotANotebook(f"an nbformat 3 notebook the grader could not upgrade ({_first_line(error)}): "
                           f"{ASK_AGAIN}") from None
    repairs.append("an nbformat 3 notebook (an old Jupyter), upgraded to nbformat 4")
    _unique_ids(notebook)
    return notebook


def _text(source) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, list):
        return "".join(part if isinstance(part, str) else json.dumps(part) for part in source)
    return "" if source is None else json.dumps(source)


def _cell(cell):
    """(cell, rewritten): the cell as nbformat 4 accepts it, outputs dropped (grading clears them
    anyway); rewritten when only a plain cell with the same text and nbgrader metadata would do."""
    if isinstance(cell, dict) and cell.get("cell_type") in CELL_TYPES and isinstance(cell.get("source"), (str, list)) \
            and all(isinstance(part, str) for part in (cell["source"] if isinstance(cell["source"], list) else [])) \
            and isinstance(cell.get("metadata", {}), dict):
        cell = dict(cell, source=_text(cell["source"]), metadata=cell.get("metadata", {}))
        if cell["cell_type"] == "code":
            cell.update(outputs=[], execution_count=None)
        else:
            cell.pop("outputs", None), cell.pop("execution_count", None)
        try:
            nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.from_dict(cell)]))
            return cell, False
        except Exception:  # noqa: BLE001 (fall through to a plain cell with the same text)
            pass
    if not isinstance(cell, dict):
        return (nbformat.v4.new_raw_cell(_text(cell)) if cell not in (None, "", [], {}) else None), True
    kind = cell.get("cell_type") if cell.get("cell_type") in CELL_TYPES else "raw"
    metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    maker = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
             "raw": nbformat.v4.new_raw_cell}[kind]
    plain = maker(_text(cell.get("source")))
    plain.metadata = {key: value for key, value in metadata.items() if key == "nbgrader" and isinstance(value, dict)}
    return plain, True


def _unique_ids(notebook):
    """Every cell a valid id, no two alike (nbformat 4.5)."""
    notebook.nbformat, notebook.nbformat_minor = 4, max(5, notebook.get("nbformat_minor", 5))
    seen = set()
    for cell in notebook.cells:
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not 1 <= len(cell_id) <= 64 or cell_id in seen \
                or not all(ch.isalnum() or ch in "-_" for ch in cell_id):
            cell_id = uuid.uuid4().hex[:8]
            while cell_id in seen:
                cell_id = uuid.uuid4().hex[:8]
            cell["id"] = cell_id
        seen.add(cell_id)


def _first_line(error) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:120]
