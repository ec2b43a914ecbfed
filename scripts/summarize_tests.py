"""Adds up the results of every test runner (TRX from dotnet test, JUnit XML from pytest) into one line."""
import sys
import xml.etree.ElementTree as ET
import re


def _parse(path):
    """Parses a result file, dropping control characters XML forbids (ONNX Runtime's coloured stderr lands in the output)."""
    text = open(path, encoding="utf-8", errors="replace").read()
    return ET.fromstring(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", text).encode())
from pathlib import Path

results = Path(sys.argv[1])
passed = failed = skipped = 0
failures = []  # (test name, first line of its message): repeated just above the summary so a log tail shows them
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for trx in sorted(results.rglob("*.trx")):
    root = _parse(trx)
    for r in root.iterfind("t:Results/t:UnitTestResult", ns):
        if r.get("outcome") in ("Failed", "Error", "Timeout", "Aborted"):
            msg = r.findtext("t:Output/t:ErrorInfo/t:Message", default="", namespaces=ns)
            failures.append((f"{trx.stem}: {r.get('testName')}", msg))
    c = root.find("t:ResultSummary/t:Counters", ns)
    passed += int(c.get("passed", 0))
    failed += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0)) + int(c.get("aborted", 0))
    skipped += int(c.get("notExecuted", 0))
for junit in sorted(results.glob("pytest*.xml")):
    for case in _parse(junit).iter("testcase"):
        for bad in list(case.findall("failure")) + list(case.findall("error")):
            failures.append((f"pytest: {case.get('classname')}::{case.get('name')}", bad.get("message") or ""))
    for suite in _parse(junit).iter("testsuite"):
        total = int(suite.get("tests", 0))
        f = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        s = int(suite.get("skipped", 0))
        failed += f
        skipped += s
        passed += total - f - s
for name, msg in failures:
    first = (msg.strip().splitlines() or [""])[0]
    print(f"FAILED {name}" + (f" -- {first[:300]}" if first else ""))
print(f"Tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
