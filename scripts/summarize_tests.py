"""Adds up the results of every test runner (TRX from dotnet test, JUnit XML from pytest) into one line."""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

results = Path(sys.argv[1])
passed = failed = skipped = 0
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for trx in sorted(results.rglob("*.trx")):
    c = ET.parse(trx).getroot().find("t:ResultSummary/t:Counters", ns)
    passed += int(c.get("passed", 0))
    failed += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0)) + int(c.get("aborted", 0))
    skipped += int(c.get("notExecuted", 0))
for junit in sorted(results.glob("pytest*.xml")):
    for suite in ET.parse(junit).getroot().iter("testsuite"):
        total = int(suite.get("tests", 0))
        f = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        s = int(suite.get("skipped", 0))
        failed += f
        skipped += s
        passed += total - f - s
print(f"Tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
