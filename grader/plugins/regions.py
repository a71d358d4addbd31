"""The marked regions of a cell's source: hidden tests, solutions, mark schemes.

nbgrader marks them with lines such as `### BEGIN HIDDEN TESTS` and
`### END HIDDEN TESTS` (any case, any comment prefix). Split here once, for the
grader (which runs the two parts of a test cell on two sides of the boundary)
and for sealed feedback (which shows neither hidden tests nor mark schemes).
"""
HIDDEN = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")
MARK_SCHEME = ("BEGIN MARK SCHEME", "END MARK SCHEME")


def split(source: str, markers=HIDDEN, placeholder: str | None = None):
    """(source without the regions, the regions' lines joined, whether there was one).

    With `placeholder`, each removed region leaves that line behind (indented as its marker)."""
    begin, end = markers
    kept, removed, inside, found = [], [], False, False
    for line in str(source).splitlines():
        upper = line.upper()
        if not inside and begin in upper:
            inside = found = True
            if placeholder is not None:
                kept.append(line[:len(line) - len(line.lstrip())] + placeholder)
            continue
        if inside and end in upper:
            inside = False
            continue
        (removed if inside else kept).append(line)
    return "\n".join(kept), "\n".join(removed), found
