"""The course and site tooling: ``python -m convbook.course COMMAND [options]`` (``COMMAND --help`` for its options).

Run from the book's repository (or give ``--root``); the Makefile's targets call these.
"""

from __future__ import annotations

import importlib
import sys

#: command -> (module with a ``main(argv)``, what it does)
COMMANDS = {
    "handout": ("convbook.course.handout", "the student handout in _build/student (make student)"),
    "student-site": ("convbook.course.student_site", "the student website in _build/student-book (make student-site)"),
    "assignments": ("convbook.course.assignments", "nbgrader assignments in _build/course (make assignments)"),
    "grade": ("convbook.course.grade", "autograde a folder of submissions with nbgrader (make grade)"),
    "feedback": ("convbook.course.feedback", "regenerate feedback after grading by hand (make feedback)"),
    "build": ("convbook.course.build", "build the book with warnings as errors (make build)"),
    "check-site": ("convbook.course.site.check", "check the built site in Chromium (make test-site)"),
    "check-explorer": ("convbook.course.site.explorer", "check the explorer against convbook (make test-site)"),
    "pdf": ("convbook.course.site.pdf", "the PDF edition in _build/pdf, printed and checked (make pdf)"),
    "sync-install-cell": ("convbook.course.install_cell", "write every notebook's Colab install cell"),
    "execute": ("convbook.course.execute", "execute notebooks in place with nbclient"),
    "release-check": ("convbook.course.release", "refuse a release whose version differs anywhere (make release)"),
    "doctor": ("convbook.course.doctor", "say in plain words what is wrong with this environment (make doctor)"),
}


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()]
    return "usage: python -m convbook.course COMMAND [options]\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        print(f"python -m convbook.course: unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    # Imported on demand: each command loads only its own tools (nbgrader, Playwright, pypdf, ...).
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
