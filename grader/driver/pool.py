"""`size` worker processes fed one student at a time over pipes (JSON lines).

A student is handed to exactly one worker, once (nbgrader races when two
processes grade the same student). A worker that dies is replaced, and the
student it was grading is reported as failed with the worker's exit code.
"""
import json
import selectors
import subprocess
import sys
import time

from .commands import environment


class Pool:
    def __init__(self, course_root, assignment, size, log_dir):
        self.course_root, self.assignment, self.size, self.log_dir = course_root, assignment, size, log_dir
        self.workers = []

    def _spawn(self, index):
        log = open(self.log_dir / f"worker-{index}.log", "w")
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
            for key, _ in selector.select(timeout=1.0):
                worker = key.data
                line = worker["process"].stdout.readline()
                if not line:  # the worker died
                    selector.unregister(key.fileobj)
                    worker["process"].wait()
                    if worker["student"] is not None:
                        busy -= 1
                        yield {"type": "result", "student": worker["student"], "success": False,
                               "error": f"grading process died (exit code {worker['process'].returncode}); "
                                        f"see {self.log_dir.name}/worker-{worker['index']}.log"}
                        worker["student"] = None
                    if not worker["ready"]:
                        yield {"type": "fatal", "message": f"grading worker {worker['index']} could not start; "
                                                           f"see {self.log_dir / ('worker-%d.log' % worker['index'])}"}
                        return
                    if queue:
                        new = self._spawn(worker["index"])
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
            if not selector.get_map():
                break

    @staticmethod
    def _hand_out(worker, queue):
        if worker["student"] is not None or not worker["ready"] or not queue:
            return 0
        worker["student"] = queue.pop(0)
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
