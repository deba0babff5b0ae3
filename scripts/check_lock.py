"""Fail if requirements.txt and constraints.txt disagree on a pinned version.

requirements.txt pins the direct dependencies; constraints.txt locks the whole
tree. A pin changed in one but not the other would install something untested.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;#]+)")


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def main() -> int:
    direct, locked = _pins(REPO / "requirements.txt"), _pins(REPO / "constraints.txt")
    problems = [f"{name}: requirements.txt pins {version}, constraints.txt has {locked.get(name, 'nothing')}"
                for name, version in direct.items() if locked.get(name) != version]
    unpinned = [line for line in (REPO / "requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#") and not PIN.match(line.strip())]
    problems += [f"not pinned to an exact version: {line}" for line in unpinned]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
