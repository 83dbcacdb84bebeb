"""What the site check found: failures by check, notes and counts, and the summary printed at the end."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Report:
    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def fail(self, check: str, message: str) -> None:
        self.failures[check].append(message)

    @property
    def ok(self) -> bool:
        return not any(self.failures.values())


@dataclass
class PageInfo:
    path: str  # site-relative, e.g. "chapters/notation.html"
    ids: set[str]
    refs: list[tuple[str, str]]
    images: list[dict]


def print_summary(report: Report, seconds: float, shots: Path) -> None:
    print()
    print("Browser check of the site " + ("PASSED" if report.ok else "FAILED") + f" in {seconds:.0f} s")
    order = ["pages", "links checked", "anchors checked", "images", "png figures checked for opacity"]
    keys = order + sorted(k for k in report.counts if k not in order)
    for key in keys:
        print(f"  {key:<34} {report.counts.get(key, 0)}")
    print(f"  screenshots in {shots}")
    for note in report.notes:
        print(f"  note: {note}")
    for check, messages in report.failures.items():
        if not messages:
            continue
        print(f"\nFAILED {check} ({len(messages)}):")
        for message in messages[:25]:
            print(f"  - {message}")
        if len(messages) > 25:
            print(f"  ... and {len(messages) - 25} more")
