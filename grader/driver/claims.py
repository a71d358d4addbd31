"""A claim on each student being graded, so that two drivers never grade one student at once.

Shards are disjoint, but the same shard can be started twice by mistake (a job resubmitted, a
`parallel` line typed twice), and nbgrader races when two processes grade one student. Before a
student is handed to a worker the driver takes an exclusive lock on
`grading_status/<assignment>/claims/<student>.lock` and keeps it until the student's record is
saved. The lock is the kernel's (flock): it goes when the driver's process goes, killed or not,
so a dead shard never leaves a stale claim; its workers die with it (worker.die_with_parent).
The status folder is on the storage every machine shares (docs/scaling.md); on NFS, Linux turns
flock into NFS byte-range locks, which the server keeps for every client.
"""
import fcntl
import os


class Claims:
    def __init__(self, folder):
        self.folder = folder
        self.held = {}

    def take(self, student) -> bool:
        """True if this driver now holds `student`; False if another driver is grading it."""
        if student in self.held:
            return True
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / f"{student}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.held[student] = fd
        return True

    def release(self, student):
        fd = self.held.pop(student, None)
        if fd is not None:
            os.close(fd)  # closing the last descriptor drops the lock

    def release_all(self):
        for student in list(self.held):
            self.release(student)
