"""Add up the JUnit reports of the test command's pytest runs into one closing line."""

import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for path in sys.argv[1:]:
    for suite in ET.parse(path).getroot().iter("testsuite"):
        tests, skips = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
        broken = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        passed += tests - skips - broken
        failed += broken
        skipped += skips
print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
