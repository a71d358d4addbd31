"""`size` worker processes fed one student at a time over pipes (JSON lines).

A student is handed to exactly one worker, once (nbgrader races when two
processes grade the same student), and only once `claim` allows it (another
driver may be grading that student: `claims.py`). A worker that dies is
replaced, and the student it was grading is handed out again, once; if a
worker dies on it a second time it is reported as failed with the worker's
exit code.
"""
import json
import selectors
import subprocess
import sys
import time

from .commands import environment


def always(student):
    return True


class Pool:
    def __init__(self, course_root, assignment, size, log_dir, claim=always, tag=""):
        """claim(student): True to grade it now, False if it is busy elsewhere (asked again
        later), or anything else to skip it (yielded as {"type": "elsewhere", "outcome": ...}).
        tag: in the workers' log names (`worker-<tag><index>.log`), so that drivers sharing
        one status folder keep their own logs."""
        self.course_root, self.assignment, self.size, self.log_dir = course_root, assignment, size, log_dir
        self.claim, self.tag = claim, tag
        self.workers, self.skipped, self.died_on = [], [], set()

    def log_name(self, index):
        return f"worker-{self.tag}{index}.log"

    def _spawn(self, index, mode="w"):
        log = open(self.log_dir / self.log_name(index), mode)  # a replacement adds to its predecessor's log
        process = subprocess.Popen([sys.executable, "-m", "grader.driver.worker", self.assignment],
                                   cwd=self.course_root, env=environment(), stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=log, start_new_session=True,
                                   text=True, bufsize=1)
        log.close()
        return {"index": index, "process": process, "student": None, "ready": False}

    def start(self):
        self.workers = [self._spawn(i) for i in range(self.size)]

    def run(self, queue):
        """Hand out the students of `queue`; yield the workers' messages (results, fatal errors)."""
        queue = list(queue)
        selector = selectors.DefaultSelector()
        for worker in self.workers:
            selector.register(worker["process"].stdout, selectors.EVENT_READ, worker)
        busy = 0
        while queue or busy:
            ready = selector.select(timeout=1.0)
            if not ready:  # a student busy elsewhere may be free now
                for worker in self.workers:
                    busy += self._hand_out(worker, queue)
            yield from self._take_skipped()
            for key, _ in ready:
                worker = key.data
                line = worker["process"].stdout.readline()
                if not line:  # the worker died
                    selector.unregister(key.fileobj)
                    worker["process"].wait()
                    if worker["student"] is not None:
                        busy -= 1
                        if worker["student"] not in self.died_on:  # killed, out of memory: try once more
                            self.died_on.add(worker["student"])
                            queue.append(worker["student"])
                        else:
                            yield {"type": "result", "student": worker["student"], "success": False,
                                   "transient": True,
                                   "error": f"grading process died (exit code {worker['process'].returncode}); "
                                            f"see {self.log_dir.name}/{self.log_name(worker['index'])}"}
                        worker["student"] = None
                    if not worker["ready"]:
                        yield {"type": "fatal", "message": f"grading worker {worker['index']} could not start; "
                                                           f"see {self.log_dir / self.log_name(worker['index'])}"}
                        return
                    if queue:
                        new = self._spawn(worker["index"], mode="a")
                        self.workers[self.workers.index(worker)] = new
                        selector.register(new["process"].stdout, selectors.EVENT_READ, new)
                    continue
                try:
                    message = json.loads(line)
                except ValueError:
                    sys.stderr.write(f"[worker {worker['index']}] {line}")
                    continue
                if message.get("type") == "fatal":
                    yield message
                    return
                if message.get("type") == "ready":
                    worker["ready"] = True
                    busy += self._hand_out(worker, queue)
                elif message.get("type") == "result":
                    busy -= 1
                    worker["student"] = None
                    message["worker"] = worker["index"]
                    busy += self._hand_out(worker, queue)  # the next student first, then the bookkeeping
                    yield message
                yield from self._take_skipped()
            if not selector.get_map():
                break

    def _take_skipped(self):
        while self.skipped:
            yield self.skipped.pop(0)

    def _hand_out(self, worker, queue):
        if worker["student"] is not None or not worker["ready"] or worker["process"].poll() is not None:
            return 0
        for student in list(queue):
            verdict = self.claim(student)
            if verdict is False:
                continue  # another driver is grading it: ask again later
            queue.remove(student)
            if verdict is not True:
                self.skipped.append({"type": "elsewhere", "student": student, "outcome": verdict})
                continue
            worker["student"] = student
            break
        else:
            return 0
        try:
            worker["process"].stdin.write(json.dumps({"student": worker["student"]}) + "\n")
            worker["process"].stdin.flush()
        except OSError:
            pass  # it died: its end of file comes next and reports the student
        return 1

    def terminate(self):
        for worker in self.workers:
            if worker["process"].poll() is None:
                worker["process"].terminate()

    def close(self):
        for worker in self.workers:
            try:
                worker["process"].stdin.close()
            except OSError:
                pass
        deadline = time.monotonic() + 20
        for worker in self.workers:
            process = worker["process"]
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()
