"""Where the book's code is published, and which version its pages were written for: in one place.

Every notebook's first (hidden) cell installs convbook on Colab from :data:`PIP_SPEC`;
``python -m convbook.course sync-install-cell`` writes that cell from here, and
``tests/test_notebooks.py`` checks that every notebook, ``_config.yml`` (the
launch and repository buttons) and ``pyproject.toml`` agree with this module.

Releasing: bump :data:`VERSION`, run ``python -m convbook.course sync-install-cell``, commit,
then tag that commit ``v<VERSION>`` and push the tag, so that the pinned
address exists for readers.
"""

REPOSITORY = "https://github.com/convbook/convbook"
VERSION = "0.2.0"
TAG = f"v{VERSION}"
#: What ``pip install`` is given on Colab: the tagged release, not whatever the default branch holds today.
PIP_SPEC = f"convbook @ git+{REPOSITORY}@{TAG}"
