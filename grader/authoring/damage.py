"""Damage a notebook the way students and their editors do (for the repair corpus and the demo).

Each function takes a notebook (not changed) and returns a new notebook, or the bytes
of a file as it would be handed in. The editors' formats follow their documented
behaviour: JupyterLab writes nbformat 4.5 with cell ids; the classic Notebook 6
writes 4.4 and no ids; VS Code keeps ids and adds its own metadata; Colab writes
4.0, keeps its cell ids in the cell metadata and drops metadata it does not know.
"""
import copy
import json
import uuid

import nbformat

from .submissions import grade_id


def _copy(nb):
    return nbformat.from_dict(copy.deepcopy(nb))


def _new_id():
    return uuid.uuid4().hex[:8]


def _index(nb, name):
    return next(n for n, cell in enumerate(nb.cells) if grade_id(cell) == name)


def paste_twice(nb, name, copy_source=None, below=True):
    """Cell `name` pasted again next to itself, metadata and all; the pasted copy holds
    `copy_source` (default: the same text) and sits below (or above) the original."""
    nb = _copy(nb)
    at = _index(nb, name)
    twin = copy.deepcopy(nb.cells[at])
    twin["id"] = _new_id()
    if copy_source is not None:
        twin.source = copy_source
    nb.cells.insert(at + 1 if below else at, twin)
    return nb


def without_metadata(nb, names=None, keep_ids=True):
    """The nbgrader metadata of cells `names` (default: every cell) gone; ids kept or new."""
    nb = _copy(nb)
    for cell in nb.cells:
        if names is None or grade_id(cell) in names:
            cell.metadata = {}
            if not keep_ids:
                cell["id"] = _new_id()
    return nb


def into_new_notebook(nb, skip=()):
    """Every cell's text copied, cell by cell, into a fresh notebook (cells of grade_ids in
    `skip` left out): no metadata, new ids."""
    fresh = nbformat.v4.new_notebook()
    makers = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
              "raw": nbformat.v4.new_raw_cell}
    fresh.cells = [makers[cell.cell_type](cell.source) for cell in nb.cells if grade_id(cell) not in skip]
    for cell in fresh.cells:
        cell["id"] = _new_id()
    return fresh


def retype(nb, name, kind="markdown"):
    """Cell `name` turned into another type (Esc M in Jupyter)."""
    nb = _copy(nb)
    at = _index(nb, name)
    old = nb.cells[at]
    maker = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
             "raw": nbformat.v4.new_raw_cell}[kind]
    new = maker(old.source, metadata=old.metadata)
    new["id"] = old["id"]
    nb.cells[at] = new
    return nb


def insert_scratch(nb, after, sources):
    """Ordinary cells with `sources`, below cell `after` (a student's experiments)."""
    nb = _copy(nb)
    at = _index(nb, after) + 1
    for offset, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = _new_id()
        nb.cells.insert(at + offset, cell)
    return nb


# ---- files as other tools save them


def as_nbformat3(nb) -> bytes:
    return nbformat.writes(nbformat.convert(_copy(nb), 3)).encode()


def as_classic_notebook(nb) -> bytes:
    """nbformat 4.4, no cell ids, one-space indentation, sources as lists of lines."""
    data = json.loads(nbformat.writes(nb))
    data["nbformat_minor"] = 4
    for cell in data["cells"]:
        cell.pop("id", None)
        cell["source"] = cell["source"].splitlines(keepends=True) if isinstance(cell["source"], str) else cell["source"]
    return json.dumps(data, indent=1, ensure_ascii=False).encode()


def as_vscode(nb) -> bytes:
    """Ids kept, VS Code's own cell and notebook metadata added, CRLF line ends."""
    data = json.loads(nbformat.writes(nb))
    data["metadata"]["vscode"] = {"interpreter": {"hash": "0" * 64}}
    data["metadata"]["language_info"] = {"name": "python", "version": "3.11.7"}
    for cell in data["cells"]:
        if cell["cell_type"] == "code":
            cell["metadata"]["vscode"] = {"languageId": "python"}
    return json.dumps(data, indent=1).replace("\n", "\r\n").encode()


def as_colab(nb, keep_nbgrader=True) -> bytes:
    """nbformat 4.0: Colab's cell ids live in the cell metadata; only metadata Colab knows is kept."""
    data = json.loads(nbformat.writes(nb))
    data["nbformat_minor"] = 0
    data["metadata"] = {"colab": {"provenance": []}, "kernelspec": {"name": "python3", "display_name": "Python 3"},
                        "language_info": {"name": "python"}}
    for cell in data["cells"]:
        kept = {"nbgrader": cell["metadata"]["nbgrader"]} if keep_nbgrader and "nbgrader" in cell["metadata"] else {}
        cell["metadata"] = {"id": cell.pop("id", _new_id()), **kept}
    return json.dumps(data, indent=2).encode()


def as_encoding(nb, codec) -> bytes:
    """The notebook's JSON saved in another encoding (utf-16, utf-8-sig, cp1252...)."""
    return nbformat.writes(nb).encode(codec)
