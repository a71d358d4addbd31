"""Match a submitted notebook's cells to its release notebook, and repair what a student's
copying, pasting or editor did to them.

The matching, in order of trust:
1. the nbgrader `grade_id` a cell carries (a cell pasted twice carries it twice);
2. the cell id, for a cell that lost its nbgrader metadata but kept its id;
3. the text of read-only cells (prompts, test cells, setup), which the student
   did not write, so a copy of it is found again wherever it sits;
4. the place between those cells, for an answer cell that lost its metadata.

Rules (also in the README, "Damaged submissions"):
- A cell pasted twice keeps one identity. For an answer cell, the copy that holds
  the student's work: the only copy that differs from the released cell, or, when
  several differ, the last of them (the one Run All leaves in effect); the others
  stay where they are as ordinary cells and the notebook goes to manual review.
  For a read-only cell, the first unchanged copy. Copies identical to the released
  cell or to the kept copy hold nothing new and are removed.
- An answer cell without metadata gets its identity back only when its place
  leaves no doubt: as many candidate cells between the read-only cells around it
  as answers missing there, or a single candidate that holds work. Otherwise no
  cell is picked: the released cell is put back empty, every candidate stays as an
  ordinary cell (code still runs in order), and the notebook goes to manual review.
- A cell that is missing is put back at its place, as released.
- A cell whose type changed gets its released type back.
Nothing is ever deleted that differs from what the release gave the student.
"""
import copy
import difflib

import nbformat


def grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    found = meta.get("grade_id") if isinstance(meta, dict) else None
    return found if isinstance(found, str) and found else None


def normal(text) -> str:
    """Text as compared here: trailing spaces and blank edge lines do not count."""
    return "\n".join(line.rstrip() for line in str(text).strip().splitlines())


def is_answer(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("solution")) and not meta.get("locked")


class Repair:
    """The repaired cells of one notebook, with what was done (`repairs`) and what a person
    should look at (`review`)."""

    def __init__(self, submitted, release):
        self.release = release.cells
        self.cells = list(submitted.cells)
        self.positions = {id(cell): number for number, cell in enumerate(self.cells, 1)}  # as handed in
        self.by_id = {grade_id(cell): cell for cell in self.release if grade_id(cell)}
        self.placed = {}  # release index -> submitted cell
        self.repairs, self.review = [], []

    def run(self):
        self._forget_unknown_ids()
        self._one_copy_each()
        self._match_in_order()
        self._answers_by_place()
        self._restore_identities()
        self._put_back_missing()
        return self

    # ---- 1. grade_ids

    def _forget_unknown_ids(self):
        for cell in self.cells:
            if cell.metadata.get("nbgrader") is not None and grade_id(cell) not in self.by_id:
                del cell.metadata["nbgrader"]  # (its grade_id is the student's text: not repeated here)
                self._note(f"cell {self._at(cell)} carried nbgrader metadata of no released cell: "
                           f"kept as an ordinary cell")

    def _one_copy_each(self):
        copies = {}
        for cell in self.cells:
            if grade_id(cell):
                copies.setdefault(grade_id(cell), []).append(cell)
        for name, found in copies.items():
            if len(found) > 1:
                self._keep_one(name, found)

    def _keep_one(self, name, found):
        released = self.by_id[name]
        unchanged = [c for c in found if normal(c.source) == normal(released.source)]
        same = {id(c) for c in unchanged}
        if is_answer(released):
            worked = [c for c in found if id(c) not in same]
            keeper = worked[-1] if worked else found[0]
        else:
            keeper = unchanged[0] if unchanged else found[0]
        same |= {id(c) for c in found if normal(c.source) == normal(keeper.source)}  # nothing new in them
        removed = [c for c in found if c is not keeper and id(c) in same]
        kept = [c for c in found if c is not keeper and id(c) not in same]
        self._drop(removed)
        for cell in kept:
            del cell.metadata["nbgrader"]
        what = f"cell {name} was there {len(found)} times: cell {self._at(keeper)} keeps its place"
        if removed:
            what += f"; {len(removed)} identical cop{'y' if len(removed) == 1 else 'ies'} removed"
        if kept:
            what += f"; cell(s) {', '.join(self._at(c) for c in kept)} kept as ordinary cells"
        self._note(what)
        if kept and is_answer(released) and any(normal(c.source) != normal(keeper.source) for c in kept):
            self.review.append(f"answer {name} was pasted more than once with different contents: the last "
                               f"(cell {self._at(keeper)}) is graded, the others are kept above it; please look")

    # ---- 2-3. cell ids and read-only text, in order

    def _key(self, cell, released=False):
        name = grade_id(cell)
        if name and (released or name in self.by_id):
            origin = self.by_id[name]
            if is_answer(origin):
                return "answer:" + name
            return f"text:{origin.cell_type}:{normal(origin.source)}"
        if not released and cell.get("id") and cell.get("id") in self._release_ids:
            origin = self._release_ids[cell["id"]]
            if origin.cell_type == cell.cell_type and grade_id(origin):
                return self._key(origin, released=True)
        return f"text:{cell.cell_type}:{normal(cell.source)}"

    def _match_in_order(self):
        self._release_ids = {c.get("id"): c for c in self.release if c.get("id")}
        mine = [self._key(cell) for cell in self.cells]
        theirs = [self._key(cell, released=True) for cell in self.release]
        matcher = difflib.SequenceMatcher(None, mine, theirs, autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                self.placed[block.b + k] = self.cells[block.a + k]
        # a cell that carries its grade_id keeps it wherever the student moved it
        where = {grade_id(cell): j for j, cell in enumerate(self.release) if grade_id(cell)}
        matched = {id(cell) for cell in self.placed.values()}
        for cell in self.cells:
            if grade_id(cell) and id(cell) not in matched and where[grade_id(cell)] not in self.placed:
                self.placed[where[grade_id(cell)]] = cell
                matched.add(id(cell))
        for cell in [c for c in self.cells if grade_id(c) and id(c) not in matched]:  # its place is taken
            released = self.by_id[grade_id(cell)]
            if normal(cell.source) == normal(released.source):
                self._drop([cell])
                self._note(f"an unchanged extra copy of cell {grade_id(cell)} removed (cell {self._at(cell)})")
            else:
                del cell.metadata["nbgrader"]
                self._note(f"cell {self._at(cell)} claimed to be {grade_id(released)}, whose place another cell "
                           f"holds: kept as an ordinary cell")
        # read-only copies left over (a test cell pasted without its metadata): removed when unchanged
        locked_texts = {key for key, cell in zip(theirs, self.release) if grade_id(cell) and key.startswith("text:")}
        spare = [c for c in self.cells if id(c) not in matched and not grade_id(c)
                 and f"text:{c.cell_type}:{normal(c.source)}" in locked_texts]
        if spare:
            self._drop(spare)
            self._note(f"{len(spare)} extra unchanged cop{'y' if len(spare) == 1 else 'ies'} of read-only cells "
                       f"removed (cell(s) {', '.join(self._at(c) for c in spare)})")

    # ---- 4. answers found by their place

    def _answers_by_place(self):
        missing = [j for j, cell in enumerate(self.release) if is_answer(cell) and j not in self.placed]
        gaps = {}
        for j in missing:
            gaps.setdefault(self._gap(j), []).append(j)
        for (before, after), wanted in gaps.items():
            free = self._free_cells(before, after)
            for kind in {self.release[j].cell_type for j in wanted}:
                self._fill([j for j in wanted if self.release[j].cell_type == kind],
                           [c for c in free if c.cell_type == kind])

    def _gap(self, j):
        before = max((k for k in self.placed if k < j), default=None)
        after = min((k for k in self.placed if k > j), default=None)
        return before, after

    def _free_cells(self, before, after):
        index = {id(cell): n for n, cell in enumerate(self.cells)}
        start = index[id(self.placed[before])] + 1 if before is not None else 0
        stop = index[id(self.placed[after])] if after is not None else len(self.cells)
        taken = {id(cell) for cell in self.placed.values()}
        return [c for c in self.cells[start:stop] if id(c) not in taken and not grade_id(c)]

    def _fill(self, wanted, candidates):
        if not candidates:
            return  # put back empty by _put_back_missing
        if len(wanted) == len(candidates):
            for j, cell in zip(wanted, candidates):
                self.placed[j] = cell
            return
        stub = normal(self.release[wanted[0]].source)
        worked = [c for c in candidates if normal(c.source) not in ("", stub)]
        if len(wanted) == 1 and len(worked) == 1:
            self.placed[wanted[0]] = worked[0]
            idle = [c for c in candidates if c is not worked[0] and normal(c.source) == stub]
            if idle:
                self._drop(idle)
                self._note(f"{len(idle)} unchanged copy of answer {grade_id(self.release[wanted[0]])} removed")
            return
        names = ", ".join(grade_id(self.release[j]) for j in wanted)
        self.review.append(f"cells {', '.join(self._at(c) for c in candidates)} could each be the answer to "
                           f"{names}: none was picked; the answer cell is put back empty and these cells are kept "
                           f"as ordinary cells (code in them still runs); please look")

    # ---- identities, types, missing cells

    def _restore_identities(self):
        given, found_by_text = [], 0
        for j, cell in sorted(self.placed.items()):
            released = self.release[j]
            if not grade_id(released):
                continue
            if cell.cell_type != released.cell_type:
                self._replace(cell, self._retyped(cell, released.cell_type))
                self._note(f"cell {grade_id(released)} was turned into a {cell.cell_type} cell: "
                           f"its type ({released.cell_type}) is restored")
                cell = self.placed[j]
            if grade_id(cell) != grade_id(released):
                cell.metadata["nbgrader"] = copy.deepcopy(released.metadata["nbgrader"])
                if is_answer(released):
                    given.append(f"{grade_id(released)} (cell {self._at(cell)})")
                else:
                    found_by_text += 1
        if given:
            self._note(f"{len(given)} answer cell(s) without their nbgrader metadata were found by their place and "
                       f"given it back: {', '.join(given)}")
        if found_by_text:
            self._note(f"{found_by_text} read-only or test cell(s) without their nbgrader metadata were found by "
                       f"their text and given it back")

    def _put_back_missing(self):
        restored = []
        for j, released in enumerate(self.release):
            if not grade_id(released) or j in self.placed:
                continue
            before = max((k for k in self.placed if k < j), default=None)
            at = self._index(self.placed[before]) + 1 if before is not None else 0
            cell = copy.deepcopy(released)
            self.cells.insert(at, cell)
            self.placed[j] = cell
            restored.append(grade_id(released))
        answers = [name for name in restored if is_answer(self.by_id[name])]
        if answers:
            self._note(f"{len(answers)} answer cell(s) missing, put back empty: {', '.join(answers)}")
        if len(restored) > len(answers):
            self._note(f"{len(restored) - len(answers)} read-only or test cell(s) missing, put back at their place")

    def _retyped(self, cell, kind):
        maker = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
                 "raw": nbformat.v4.new_raw_cell}[kind]
        new = maker(cell.source, metadata=cell.metadata)
        if cell.get("id"):
            new["id"] = cell["id"]
        self.positions[id(new)] = self.positions.get(id(cell))
        return new

    def _replace(self, old, new):
        self.cells[self._index(old)] = new
        for j, cell in self.placed.items():
            if cell is old:
                self.placed[j] = new

    def _drop(self, cells):
        gone = {id(cell) for cell in cells}
        self.cells = [c for c in self.cells if id(c) not in gone]

    def _index(self, cell):
        return next(n for n, c in enumerate(self.cells) if c is cell)

    def _at(self, cell):
        number = self.positions.get(id(cell))
        return f"#{number}" if number else "(new)"

    def _note(self, text):
        self.repairs.append(text)


#: Above this many cells no alignment is tried (its cost grows with the square of the count).
MAX_CELLS = 2000


def repair(submitted, release):
    """(notebook, repairs, review): `submitted` (changed in place) aligned with `release`."""
    if len(submitted.cells) > MAX_CELLS:
        return submitted, [], [f"{len(submitted.cells)} cells: too many to align with the release; graded as "
                               f"handed in, please look"]
    done = Repair(submitted, release).run()
    submitted.cells = done.cells
    return submitted, done.repairs, done.review
