"""A grader marks a Part C free-text answer in nbgrader's formgrader, in headless Chromium.

The test builds a throw-away course with one autograded submission, starts
`jupyter server` on a free localhost port with only nbgrader's formgrader
extension, logs in with the server's token like a person would, opens the
manual-grading page of the submission, checks that the mark scheme, the
student's free-text answer and its points box are shown, types a score and a
comment, and reads both back from the gradebook.

Chromium is Debian's package (tools/install_browser.sh installs it when it is
missing and we are root); Playwright (requirements.txt) drives it through
`executable_path`, so no browser is downloaded. The test is skipped only when
Chromium cannot be installed. The page is kept offline: requests to any other
host are refused, as on a machine without internet.
"""
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ASSIGNMENT, REPO
from grader.reports import manual_grading

pytestmark = [pytest.mark.slow, pytest.mark.browser]

NB = "C_conceptual.ipynb"
STEM = "C_conceptual"
STUDENT = "demo_student"
ANSWER = ("Forward mode gives one column of the Jacobian per pass and reverse mode one row, "
          "so for a single scalar loss one backward pass yields the whole gradient.")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
OFFSITE = re.compile(r"^(?!https?://127\.0\.0\.1[:/])[a-z]+://")
ONLY_FORMGRADER = {  # the server loads nbgrader's formgrader and nothing else it need not
    "nbgrader.server_extensions.formgrader": True,
    "nbgrader.server_extensions.assignment_list": False,
    "nbgrader.server_extensions.course_list": False,
    "nbgrader.server_extensions.validate_assignment": False,
    "jupyterlab": False, "notebook": False, "notebook_shim": False,
    "jupyter_lsp": False, "jupyter_server_terminals": False,
}


def chromium_or_skip():
    """Debian's Chromium, installed through the project's script if missing; skip only if that is impossible."""
    if not os.access(CHROMIUM, os.X_OK):
        try:
            run = subprocess.run(["bash", str(REPO / "tools" / "install_browser.sh")],
                                 capture_output=True, text=True, timeout=900)
            said = (run.stdout + run.stderr).strip().splitlines()[-3:]
        except (OSError, subprocess.TimeoutExpired) as error:
            said = [str(error)]
        if not os.access(CHROMIUM, os.X_OK):
            pytest.skip(f"Chromium cannot be installed here ({CHROMIUM} is missing; "
                        f"tools/install_browser.sh said: {' / '.join(said)})")
    return CHROMIUM


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def graded_course(make_course):
    """A course with one autograded Part C submission whose C1 answer is a known sentence."""
    course = make_course([NB])
    nb = course.reference(NB)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "c1_written":
            cell.source = ANSWER
    course.submit(STUDENT, {NB: nb})
    scores = course.autograde()
    assert course.status[STUDENT]["status"] == "graded", course.status
    assert scores[STUDENT][STEM]["c1_written"] == (0.0, 3.0)  # waiting for a grader
    return course


@pytest.fixture
def formgrader(graded_course, tmp_path):
    """`jupyter server` with the formgrader on a free port, in the course directory; always stopped."""
    root = Path(graded_course.root)
    home = tmp_path / "jupyter"
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        (home / name).mkdir(parents=True)
        env[name] = str(home / name)
    (home / "JUPYTER_CONFIG_DIR" / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": ONLY_FORMGRADER}}))
    env["NBGRADER_EXCHANGE"] = str(tmp_path / "exchange")
    (tmp_path / "exchange").mkdir()
    port, token = free_port(), secrets.token_hex(16)
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ip=127.0.0.1",
             f"--port={port}", "--port-retries=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}"],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter server exited ({server.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                request = urllib.request.Request(f"{base}/api/status", headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(request, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter server did not answer in 90 s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.25)
        yield {"base": base, "token": token, "log": log_path}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def test_a_grader_scores_a_free_text_answer(graded_course, formgrader, tmp_path):
    chromium = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    started = time.monotonic()
    url = manual_grading.db_url(graded_course.root)
    from nbgrader.api import Gradebook
    with Gradebook(url) as gb:
        submission = gb.find_submission_notebook(STEM, ASSIGNMENT, STUDENT)
        submission_id, total_before = submission.id, submission.score
    assert (STUDENT, STEM, "c1_written") in manual_grading.needs_manual_grading(url, ASSIGNMENT)

    page_errors, comment = [], "Clear: rows versus columns, and why m = 1 matters."
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            browser.route(OFFSITE, lambda route: route.abort())
            page = browser.new_page()
            page.on("pageerror", lambda error: page_errors.append(str(error)))

            # Log in with the token, as a grader would, and land on the submission's grading page.
            target = f"/formgrader/submissions/{submission_id}/"
            page.goto(f"{formgrader['base']}/login?next={target}", wait_until="domcontentloaded")
            page.fill("#password_input", formgrader["token"])
            page.click("#login_submit")
            page.wait_for_url(re.compile(re.escape(target)), wait_until="domcontentloaded")
            page.wait_for_function(
                "() => window.formgrader && formgrader.grades && formgrader.grades.loaded"
                " && formgrader.comments && formgrader.comments.loaded", timeout=60_000)

            # The free-text answer, its points box (empty, flagged) and the mark scheme above it.
            score_box = page.locator("input.score#c1_written")
            answer = page.locator(".nbgrader_cell", has=score_box)
            expect(answer).to_be_visible()
            expect(answer).to_contain_text("Student's answer")
            expect(answer).to_contain_text(ANSWER)
            expect(answer).to_contain_text("/ 3")
            expect(score_box).to_be_visible()
            expect(score_box).to_have_value("")
            expect(score_box).to_have_class(re.compile(r"\bneeds_manual_grade\b"))
            scheme = page.get_by_text("=== BEGIN MARK SCHEME ===").first
            expect(scheme).to_be_visible()
            expect(page.get_by_text("Loses marks").first).to_be_visible()
            assert scheme.bounding_box()["y"] < answer.bounding_box()["y"]
            for other in ("c2_written", "c3_written", "c4_written"):
                expect(page.locator(f"input.score#{other}")).to_be_visible()

            # Enter a score and a comment; each is saved when the box loses focus.
            with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT") as saved:
                score_box.fill("2")
                score_box.blur()
            assert saved.value.ok, saved.value.status
            comment_box = page.locator("textarea#c1_written-comment")
            with page.expect_response(lambda r: "/formgrader/api/comment/" in r.url and r.request.method == "PUT") as saved:
                comment_box.fill(comment)
                comment_box.blur()
            assert saved.value.ok, saved.value.status
            expect(score_box).not_to_have_class(re.compile(r"\bneeds_manual_grade\b"))
        finally:
            browser.close()

    # The gradebook has the score: the cell is graded and the notebook's total includes it.
    assert manual_grading.manual_grade(url, ASSIGNMENT, STUDENT, STEM, "c1_written") == (2.0, 3.0, comment)
    assert (STUDENT, STEM, "c1_written") not in manual_grading.needs_manual_grading(url, ASSIGNMENT)
    with Gradebook(url) as gb:
        assert gb.find_submission_notebook(STEM, ASSIGNMENT, STUDENT).score == pytest.approx(total_before + 2.0)
    # Offline, MathJax (loaded from a CDN by the formgrader's page) is missing; nothing else may fail.
    assert all("MathJax" in error for error in page_errors), page_errors
    print(f"\nbrowser part: {time.monotonic() - started:.1f} s")


def test_feedback_formulas_are_drawn_by_the_browser_offline(tmp_path):
    """A student opens feedback without internet: the MathJax CDN is unreachable, yet every formula
    is drawn (MathML from grader.plugins.MathAsMathML): a fraction stands taller than a line of text."""
    chromium = chromium_or_skip()
    import nbformat
    from nbconvert import HTMLExporter
    from playwright.sync_api import sync_playwright
    from grader.plugins.mathml import MathAsMathML

    exporter = HTMLExporter()
    exporter.register_preprocessor(MathAsMathML(), enabled=True)
    page_html, _ = exporter.from_notebook_node(nbformat.read(str(REPO / "release" / ASSIGNMENT / "A_theory.ipynb"), 4))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            blocked = []
            browser.route(re.compile(r"^[a-z]+://"), lambda route: (blocked.append(route.request.url), route.abort()))
            page = browser.new_page()
            page.set_content(page_html, wait_until="load")
            drawn = page.evaluate("""() => [...document.querySelectorAll('math')].map(m => {
                const box = m.getBoundingClientRect();
                return {block: m.getAttribute('display') === 'block', frac: !!m.querySelector('mfrac'),
                        height: box.height, width: box.width, text: m.textContent};
            })""")
            line = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('p')).lineHeight) || 20")
        finally:
            browser.close()
    assert any("cdnjs" in url or "mathjax" in url.lower() for url in blocked), "the page did try the CDN"
    assert len(drawn) > 50 and all(m["width"] > 0 for m in drawn), len(drawn)
    fractions = [m for m in drawn if m["block"] and m["frac"]]
    assert fractions and all(m["height"] > line for m in fractions), (line, fractions[:2])
    assert not any("\\" in m["text"] or "$" in m["text"] for m in drawn), "LaTeX left inside a formula"
