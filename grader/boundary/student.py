"""The student's work as hidden tests see it: `student.value`, `student.call`, `student.evaluate`.

Hidden tests never touch a student's object. They ask, and get data back
(`grader.boundary.wire`). Two ways of asking share everything below but the
transport:

- `KernelStudent` (grading): requests travel to the agent in the sandboxed
  kernel over the Jupyter stdin channel; the hidden test runs in the grader.
- `LocalStudent` (nbval on the instructor's source notebooks): the same agent
  code answers in-process, through the same encoding, so a source notebook runs
  top to bottom with its hidden tests included.

A failure becomes a `CheckFailed` whose message is written for the student
("softmax(Z) raised IndexError: ...", "sigmoid is not defined: ..."); the
caller's `label` names the call, never an expected value.
"""
import json

import numpy as np

from . import wire
from course.checks import CheckFailed, fail

#: How often one call may use the grader's trusted helpers.
MAX_HELPER_CALLS = 20_000


class Student:
    """What every way of asking has in common; `_ask(request) -> reply dict` is the transport."""

    #: the snippets sent to the kernel (for the feedback's leak check)
    sent_code: list

    def value(self, name):
        """The value of the notebook's global `name`, as data."""
        reply = self._ask({"op": "value", "name": name})
        return self._value(reply, name, name)

    def call(self, name, *args, label=None, trusted=None, warning_hint=None, return_args=False, **kwargs):
        """The result of the student's function `name` called with these arguments (data).

        label         names the call in messages ("sigmoid(z) for z up to 1000").
        trusted       {global name: grader function}: during this call the notebook's `name`
                      is a stub whose results the grader computes (a helper the student wrote
                      elsewhere is replaced by a correct one, so a mistake costs once).
        warning_hint  a hint kind: any warning during the call fails the check with that hint
                      (otherwise warnings are ignored).
        return_args   return (result, [the arguments as they are after the call]).
        """
        label = label or f"{name}(...)"
        request = {"op": "call", "name": name, "args": wire.encode(list(args)),
                   "kwargs": wire.encode(dict(kwargs))}
        return self._run(request, label, trusted, warning_hint, return_args)

    def evaluate(self, code, label, trusted=None, warning_hint=None, **inputs):
        """The value of the last expression of `code`, run in a copy of the notebook's namespace
        with `inputs` bound. For what cannot be a call: operators on a student's class, figures."""
        request = {"op": "evaluate", "code": code, "kwargs": wire.encode(dict(inputs))}
        self.sent_code.append(code)  # hidden-test text the kernel saw: feedback must not show it
        return self._run(request, label, trusted, warning_hint, False)

    def map(self, name, calls, label=None, **options):
        """[call(name, *args) for args in calls]."""
        return [self.call(name, *args, label=label, **options) for args in calls]

    def end(self):
        """No more requests for this test cell."""

    # ---- shared by both transports

    def _run(self, request, label, trusted, warning_hint, return_args):
        helpers = dict(trusted or {})
        request.update(trusted=sorted(helpers), warnings="record" if warning_hint else "ignore",
                       return_args=return_args)
        reply = self._ask(request, helpers)
        value = self._value(reply, label, request.get("name"))
        if warning_hint and reply.get("warnings"):
            first = reply["warnings"][0]
            fail(f"{label} emitted a {first.get('category', 'warning')!s:.60} "
                 f"({first.get('message', '')!s:.150}).", warning_hint, label)
        if return_args:
            try:
                after = wire.decode(reply.get("args"))
            except wire.BadAnswer as error:
                raise CheckFailed(f"{label}: {error}.") from None
            if not isinstance(after, list) or len(after) != len(wire.decode(request["args"])):
                raise CheckFailed(f"{label}: the kernel's answer is not readable.")
            return value, after
        return value

    @staticmethod
    def _value(reply, label, name):
        if not isinstance(reply, dict):
            raise CheckFailed(f"{label}: the kernel's answer is not readable.")
        if not reply.get("ok"):
            raise CheckFailed(_explain(reply.get("error"), label, name))
        try:
            return wire.decode(reply.get("value"))
        except wire.BadAnswer as error:
            raise CheckFailed(f"{label}: {error}.") from None

    @staticmethod
    def _helper_answer(helpers, message, used):
        """The grader's reply to a stub call from the kernel (data in, data out)."""
        name = message.get("stub")
        if name not in helpers:
            return {"ok": False, "error": "this helper is not available now"}
        used[0] += 1
        if used[0] > MAX_HELPER_CALLS:
            return {"ok": False, "error": "too many calls of the helper"}
        try:
            args = wire.decode(message.get("args"))
            kwargs = wire.decode(message.get("kwargs") or {"t": "dict", "v": []})
            if not isinstance(args, list) or not isinstance(kwargs, dict) \
                    or not all(isinstance(k, str) for k in kwargs):
                raise wire.BadAnswer("malformed arguments")
            with np.errstate(all="ignore"):
                result = helpers[name](*args, **kwargs)
            return {"ok": True, "value": wire.encode(result)}
        except Exception as error:  # noqa: BLE001 (the helper got arguments it cannot take)
            return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}


def _explain(error, label, name):
    """A student-facing sentence for an error the kernel reported."""
    if not isinstance(error, dict):
        return f"{label} failed."
    if error.get("undefined"):
        missing = str(error.get("message") or name)[:60]
        return f"{missing} is not defined: run the cell that defines it (and check its spelling)."
    if error.get("not_implemented"):
        return f"{label}: not implemented yet."
    if error.get("interrupted"):
        return f"{label} was stopped: it did not finish in time."
    kind = str(error.get("type", "an error"))[:60]
    message = str(error.get("message", ""))[:200]
    return f"{label} raised {kind}: {message}" if message else f"{label} raised {kind}."


class LocalStudent(Student):
    """In the kernel itself (nbval of the source notebooks): the agent answers in-process."""

    def __init__(self, user_ns):
        from .agent import Agent
        self.agent = Agent(user_ns)
        self.sent_code = []

    def _ask(self, request, helpers=None):
        used = [0]
        helpers = helpers or {}

        def ask(prompt):
            message = json.loads(prompt)
            return json.dumps(self._helper_answer(helpers, message, used))

        self.agent.ask = ask
        request = json.loads(json.dumps(request))  # what the wire would carry
        reply = self.agent.handle(request)
        return wire.parse(json.dumps(reply))
