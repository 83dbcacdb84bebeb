"""Where the book's code is published, which version its pages were written for, and the oldest Python it runs on:
in one place.

Every notebook's first (hidden) cell installs convbook on Colab from :data:`PIP_SPEC`;
``python -m convbook.course sync-install-cell`` writes that cell from here, and
``python -m convbook.course release-check`` (``make release``) checks that ``pyproject.toml``, ``CHANGELOG.md``,
``CITATION.cff``, the README's attribution, the site's version line (``_config.yml``), the PDF's title page and
every notebook's install cell agree with this module, and that the tag, once made, is on the commit checked.

Releasing: bump :data:`VERSION`, add its entry at the top of ``CHANGELOG.md``, update ``CITATION.cff`` and the
version line of ``_config.yml``, run ``python -m convbook.course sync-install-cell`` and ``make release``, commit,
then ``git tag -a v<VERSION> -m "convbook <VERSION>"`` on that commit, run ``make release`` again, and push the tag,
so that the pinned address exists for readers.

This module runs on old Pythons too (no syntax newer than 3.6: f-strings, no annotations), so that
``import convbook`` and ``python lib/convbook/_release.py`` (the Makefile's first step) can say in a sentence that
the Python is too old, instead of failing somewhere inside numpy's installation.
"""

import sys

REPOSITORY = "https://github.com/convbook/convbook"
VERSION = "0.3.0"
TAG = f"v{VERSION}"
#: What ``pip install`` is given on Colab: the tagged release, not whatever the default branch holds today.
PIP_SPEC = f"convbook @ git+{REPOSITORY}@{TAG}"
#: Every tag is an edition of the book: where readers find the other versions.
RELEASES = f"{REPOSITORY}/tags"
#: The oldest Python the pinned requirements install on (numpy 2.4, matplotlib 3.11 and pillow 13 need 3.11).
MIN_PYTHON = (3, 11)


def python_problem(version_info=None):
    """A sentence saying what to install if ``version_info`` (default: this Python) is older than
    :data:`MIN_PYTHON`, else None."""
    version = tuple(sys.version_info if version_info is None else version_info)
    if len(version) < 2 or not all(isinstance(v, int) for v in version[:2]):
        raise TypeError(f"python_problem: version_info must start with two ints, got {version_info!r}")
    if version[:2] >= MIN_PYTHON:
        return None
    need, have = "{}.{}".format(*MIN_PYTHON), "{}.{}".format(*version[:2])
    return (
        f"convbook needs Python {need} or later; this is Python {have}. Install Python {need} or newer "
        "(python.org; Ubuntu 22.04: sudo apt install python3.11 python3.11-venv; macOS: brew install python@3.11), "
        "then make the environment with it: python3.11 -m venv .venv (or: make PYTHON=python3.11 setup; "
        "Windows: py -3.11 -m venv .venv), or use Colab."
    )


if __name__ == "__main__":  # python lib/convbook/_release.py: the Makefile's check of the Python it was given
    problem = python_problem()
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(1)
    print("Python {}.{}: OK (convbook needs {}.{} or later)".format(*(tuple(sys.version_info[:2]) + MIN_PYTHON)))
elif python_problem():
    raise ImportError(python_problem())
