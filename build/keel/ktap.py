# ktap.py - a KTAP version 1 parser for ktest output (hosted stdout or the
# QEMU serial console): one result per test case, with the "# ..."
# diagnostic lines the runner prints before a failing case's result, and an
# error when the output stops early (a crash in the middle of a suite).

import re

_RESULT = re.compile(r"^(not ok|ok)\s+(\d+)\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(.*))?$")
_PLAN = re.compile(r"^1\.\.(\d+)$")
_SUBTEST = re.compile(r"^#\s*Subtest:\s*(.+)$")


class Case:
    def __init__(self, suite, name, status, diagnostics):
        self.suite = suite
        self.name = name
        self.status = status  # "pass", "fail" or "skip"
        self.diagnostics = diagnostics

    @property
    def full_name(self):
        return f"{self.suite}.{self.name}" if self.suite else self.name


class Report:
    def __init__(self):
        self.cases = []
        self.errors = []  # structural problems (missing plan, truncated output)


def parse(text):
    report = Report()
    lines = text.replace("\r", "").split("\n")
    start = None
    for i, line in enumerate(lines):
        if line.strip() == "KTAP version 1" and not line.startswith(" "):
            start = i
            break
    if start is None:
        report.errors.append("no 'KTAP version 1' header in the output")
        return report

    top_plan = None
    top_results = 0
    suite = None  # name of the open subtest
    suite_plan = None
    suite_results = 0
    diagnostics = []
    last_line = start

    def close_suite():
        nonlocal suite, suite_plan, suite_results
        if suite is not None and suite_plan is not None and suite_results != suite_plan:
            report.errors.append(
                f"suite {suite}: {suite_results} of {suite_plan} planned cases reported"
            )
        suite, suite_plan, suite_results = None, None, 0

    for i in range(start + 1, len(lines)):
        raw = lines[i]
        text_line = raw.strip()
        if not text_line:
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        if indent == 0:
            m = _PLAN.match(text_line)
            if m and top_plan is None:
                top_plan = int(m.group(1))
                last_line = i
                continue
            m = _RESULT.match(text_line)
            if m and (suite is not None or top_plan is not None):
                # A suite's own result line closes it.
                top_results += 1
                if suite is None and m.group(3):
                    # A top-level test without subtests counts as a case.
                    status = _status(m)
                    report.cases.append(Case("", m.group(3), status, diagnostics))
                diagnostics = []
                close_suite()
                last_line = i
                if top_plan is not None and top_results >= top_plan:
                    break
                continue
            # Anything else at column 0 is other console output (DbgPrint
            # from a test, kernel messages); it is not part of the KTAP.
            continue
        if text_line == "KTAP version 1":
            close_suite()
            last_line = i
            continue
        m = _SUBTEST.match(text_line)
        if m:
            suite = m.group(1).strip()
            last_line = i
            continue
        m = _PLAN.match(text_line)
        if m:
            suite_plan = int(m.group(1))
            last_line = i
            continue
        m = _RESULT.match(text_line)
        if m:
            suite_results += 1
            report.cases.append(Case(suite or "", m.group(3), _status(m), diagnostics))
            diagnostics = []
            last_line = i
            continue
        if text_line.startswith("#"):
            diagnostics.append(text_line)
            continue

    if top_plan is None:
        report.errors.append("KTAP output has no top-level plan (1..N)")
    elif top_results < top_plan:
        where = f" in suite {suite}" if suite else ""
        report.errors.append(
            f"KTAP output ended after {top_results} of {top_plan} suites{where}; last lines:\n"
            + "\n".join(lines[last_line : last_line + 25])
        )
    if suite is not None and diagnostics:
        # Diagnostics after the last result: the case that was running when
        # the output stopped.
        report.errors.append("unfinished case diagnostics:\n" + "\n".join(diagnostics))
    return report


def _status(match):
    directive = (match.group(4) or "").strip().upper()
    if directive.startswith("SKIP"):
        return "skip"
    return "pass" if match.group(1) == "ok" else "fail"
