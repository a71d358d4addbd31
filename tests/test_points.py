"""Points follow the difficulty, and every heading says how many it is worth (issue 21).

The table below is the course's points table; a change of points is a change here too.
"""
import re

import pytest

from conftest import SOURCE
from grader.authoring import submissions

#: exercise: points. The backprop core (B2, B3, B4, B6) weighs most; A1 and C4 less.
TABLE = {
    "A_theory.ipynb": {"A1": 4, "A2": 5, "A3": 5, "A4": 4, "A5": 4, "A6": 3, "A7": 4},
    "B_coding.ipynb": {"B1": 5, "B2": 8, "B3": 8, "B4": 11, "B5": 3, "B6": 8},
    "C_conceptual.ipynb": {"C1": 5, "C2": 7, "C3": 6, "C4": 7},
}
HEADING = re.compile(r"^## ([ABC]\d) — .*?(?:\((\d+) points\))?$")


def exercises(path):
    """{exercise: (points its heading states, points of its graded cells)}."""
    found, current = {}, None
    for cell in submissions.read(path).cells:
        match = HEADING.match(cell.source.split("\n", 1)[0]) if cell.cell_type == "markdown" else None
        if match:
            current = match.group(1)
            found[current] = [int(match.group(2)) if match.group(2) else None, 0]
        points = cell.metadata.get("nbgrader", {}).get("points")
        if points and cell.metadata["nbgrader"].get("grade"):
            found[current][1] += points
    return {name: tuple(pair) for name, pair in found.items()}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_every_heading_states_the_points_its_cells_carry(name):
    found = exercises(SOURCE / name)
    assert {exercise: stated for exercise, (stated, _) in found.items()} == TABLE[name]
    assert {exercise: carried for exercise, (_, carried) in found.items()} == TABLE[name]


def test_the_backprop_core_weighs_most():
    flat = {exercise: points for table in TABLE.values() for exercise, points in table.items()}
    core = [flat[e] for e in ("B2", "B3", "B4", "B6")]
    assert min(core) > max(points for e, points in flat.items() if e not in ("B2", "B3", "B4", "B6"))
    assert flat["A1"] < flat["A2"] and flat["C4"] <= max(flat["C1"], flat["C2"])
