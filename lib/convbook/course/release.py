"""One version everywhere, checked before a release: ``python -m convbook.course release-check`` (``make release``).

The version is written once, in ``lib/convbook/_release.py`` (``VERSION``, and the tag ``v<VERSION>``). Everything a
reader, an instructor or pip sees must name the same one, and the check refuses a release where anything differs:

* ``pyproject.toml`` takes its version from ``convbook._release.VERSION`` (or states the same one) and its
  ``requires-python`` is ``>=`` ``convbook._release.MIN_PYTHON``;
* ``CHANGELOG.md``: the first released entry (``## [X.Y.Z] - YYYY-MM-DD``, after an optional ``[Unreleased]``) is
  this version, dated;
* ``CITATION.cff``: ``version`` is this version and ``date-released`` the changelog entry's date;
* ``README.md``: every tag it names (``@vX.Y.Z``, ``/tree/vX.Y.Z``) and the version in its suggested attribution;
* every notebook's Colab install cell installs this tag (``python -m convbook.course sync-install-cell`` writes them);
* the site: ``_config.yml``'s version line (``html.extra_footer``, on every page) names the version, the tag and
  where the other versions are; the PDF's title page (``convbook.course.site.pdf.title_page``) names the version;
  a site or PDF already built under ``_build/`` must name it too (a stale build is refused: rebuild it);
* git: if the tag exists, it is an annotated tag on HEAD and the tracked files are committed.

Exit status 0 when all agree; otherwise each disagreement is printed with what to change, and the status is 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import nbformat
import yaml

from convbook.course.install_cell import COLAB_MARKER, notebooks

RELEASE_MODULE = Path("lib") / "convbook" / "_release.py"
CHANGELOG_ENTRY = re.compile(r"^## \[(?P<version>[^\]]+)\](?:\s*-\s*(?P<date>\S+))?", re.M)
TAG_IN_TEXT = re.compile(r"(?:@|/tree/|/releases/tag/)(v\d+\.\d+\.\d+\w*)")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class ReleaseReport:
    version: str = ""
    tag: str = ""
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def load_release(root: Path) -> ModuleType:
    """``lib/convbook/_release.py`` of the book at ``root``, loaded under a private name (not the installed one)."""
    path = Path(root) / RELEASE_MODULE
    if not path.exists():
        raise FileNotFoundError(f"release-check: {path} is missing (is --root the book's repository?)")
    spec = importlib.util.spec_from_file_location("_convbook_release_checked", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def changelog_entry(text: str) -> tuple[str, str] | None:
    """(version, date) of the first released entry of a Keep-a-Changelog file (``[Unreleased]`` skipped)."""
    for match in CHANGELOG_ENTRY.finditer(text):
        if match["version"].lower() != "unreleased":
            return match["version"], match["date"] or ""
    return None


def _git(root: Path, *args: str) -> str | None:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def check_git(root: Path, tag: str, report: ReleaseReport) -> None:
    """If ``tag`` exists: annotated, on HEAD, nothing tracked left uncommitted."""
    if _git(root, "rev-parse", "--is-inside-work-tree") != "true":
        report.checked.append("git: not a repository, tag not checked")
        return
    if _git(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}") is None:
        report.checked.append(f"git: no tag {tag} yet (make it on the release commit: git tag -a {tag})")
        return
    head, tagged = _git(root, "rev-parse", "HEAD"), _git(root, "rev-parse", f"{tag}^{{commit}}")
    if tagged != head:
        report.problems.append(
            f"git: tag {tag} is on {tagged[:12]}, not on HEAD {head[:12]}: the tagged edition is not this one "
            f"(bump the version for a new edition, or check out {tag})"
        )
    if _git(root, "cat-file", "-t", f"refs/tags/{tag}") != "tag":
        report.problems.append(f"git: {tag} is a lightweight tag; make an annotated one: git tag -a {tag}")
    dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    if dirty:
        report.problems.append(f"git: tracked files differ from the tagged commit: {dirty.splitlines()[:3]}")
    if not report.problems:
        report.checked.append(f"git: {tag} is an annotated tag on HEAD")


def check_release(root: Path, built: bool = True) -> ReleaseReport:
    """Every place that names the version, against ``lib/convbook/_release.py``; see the module's docstring.

    ``built``: also check a site and a PDF already built under ``root/_build`` (skipped where none is).
    """
    root = Path(root)
    release = load_release(root)
    version, tag = release.VERSION, release.TAG
    report = ReleaseReport(version=version, tag=tag)
    problems, checked = report.problems, report.checked
    if tag != f"v{version}" or release.PIP_SPEC != f"convbook @ git+{release.REPOSITORY}@{tag}":
        problems.append(f"{RELEASE_MODULE}: TAG {tag!r} / PIP_SPEC {release.PIP_SPEC!r} do not follow VERSION")

    # pyproject.toml
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    meta = project["project"]
    if "version" in meta.get("dynamic", []):
        attr = project.get("tool", {}).get("setuptools", {}).get("dynamic", {}).get("version", {}).get("attr")
        if attr != "convbook._release.VERSION":
            problems.append(f"pyproject.toml: the dynamic version comes from {attr!r}, not convbook._release.VERSION")
    elif meta.get("version") != version:
        problems.append(f"pyproject.toml: version {meta.get('version')!r}, but _release.py says {version!r}")
    need = ">={}.{}".format(*release.MIN_PYTHON)
    if meta.get("requires-python") != need:
        problems.append(f"pyproject.toml: requires-python {meta.get('requires-python')!r}, expected {need!r}")
    checked.append("pyproject.toml")

    # CHANGELOG.md
    date = ""
    changelog = root / "CHANGELOG.md"
    entry = changelog_entry(changelog.read_text(encoding="utf-8")) if changelog.exists() else None
    if entry is None:
        problems.append("CHANGELOG.md: missing, or no released entry '## [X.Y.Z] - YYYY-MM-DD'")
    else:
        top, date = entry
        if top != version:
            problems.append(f"CHANGELOG.md: the top entry is [{top}], but _release.py says {version}: add its entry")
        if not DATE.match(date):
            problems.append(f"CHANGELOG.md: the entry [{top}] has no date 'YYYY-MM-DD' (got {date!r})")
    checked.append("CHANGELOG.md")

    # CITATION.cff
    citation = root / "CITATION.cff"
    if not citation.exists():
        problems.append("CITATION.cff is missing")
    else:
        cff = yaml.safe_load(citation.read_text(encoding="utf-8"))
        if str(cff.get("version")) != version:
            problems.append(f"CITATION.cff: version {cff.get('version')!r}, but _release.py says {version!r}")
        if date and str(cff.get("date-released")) != date:
            problems.append(f"CITATION.cff: date-released {cff.get('date-released')!s}, the changelog says {date}")
        checked.append("CITATION.cff")

    # README.md: the tags it names and the suggested attribution
    readme = (root / "README.md").read_text(encoding="utf-8")
    other = sorted(set(TAG_IN_TEXT.findall(readme)) - {tag})
    if other:
        problems.append(f"README.md names {other}, but this edition is {tag}")
    named = set(re.findall(r"\bversion\W{0,3}(\d+\.\d+\.\d+\S*?)\W*\s", readme))
    if named != {version}:
        problems.append(f"README.md: the suggested attribution does not say 'version {version}' alone: {sorted(named)}")
    checked.append("README.md")

    # the install cells
    wrong = []
    for path in notebooks(root):
        code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        if not code or COLAB_MARKER not in code[0].source or f'CONVBOOK = "{release.PIP_SPEC}"' not in code[0].source:
            wrong.append(path.relative_to(root).as_posix())
    if wrong:
        problems.append(
            f"{len(wrong)} notebook(s) do not install {tag}: {wrong[:3]}; run python -m convbook.course "
            "sync-install-cell"
        )
    checked.append(f"install cells of {len(notebooks(root))} notebooks")

    # the site's version line and the PDF's title page
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    footer = str((config.get("html") or {}).get("extra_footer") or "")
    for want in (f"convbook {version}", tag, release.RELEASES):
        if want not in footer:
            problems.append(f"_config.yml: html.extra_footer (the site's version line) does not name {want!r}")
    checked.append("_config.yml version line")
    problems.extend(check_title_page(root, version))
    checked.append("PDF title page")
    if built:
        check_built(root, version, report)
    check_git(root, tag, report)
    return report


def check_title_page(root: Path, version: str) -> list[str]:
    """The PDF's title page, as ``convbook.course.site.pdf`` writes it (from the installed convbook)."""
    # imported here: the PDF module loads Playwright, which the rest of this check does not need
    from convbook.course.site import pdf

    text = pdf.title_page(root)
    return [] if f"Version {version}" in text else [f"the PDF's title page does not say 'Version {version}': {text}"]


def check_built(root: Path, version: str, report: ReleaseReport) -> None:
    """A site or PDF already built under ``root/_build`` names this version (a stale one must be rebuilt)."""
    index = root / "_build" / "html" / "index.html"
    if index.exists():
        if f"convbook {version}" not in index.read_text(encoding="utf-8"):
            report.problems.append(f"{index}: its footer does not say 'convbook {version}': rebuild it (make build)")
        else:
            report.checked.append("the built site")
    pdf_path = root / "_build" / "pdf" / "convbook.pdf"
    if pdf_path.exists():
        # imported here: pypdf is only needed when a PDF was built
        from pypdf import PdfReader

        first = PdfReader(str(pdf_path)).pages[0].extract_text() or ""
        if f"Version {version}" not in first:
            report.problems.append(f"{pdf_path}: its title page does not say 'Version {version}': rebuild (make pdf)")
        else:
            report.checked.append("the built PDF")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m convbook.course release-check", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="the book's repository (default: here)")
    parser.add_argument("--no-built", action="store_true", help="skip the site and PDF built under _build/")
    args = parser.parse_args(argv)
    report = check_release(args.root.resolve(), built=not args.no_built)
    for what in report.checked:
        print(f"OK       {what}")
    for problem in report.problems:
        print(f"PROBLEM  {problem}")
    if report.problems:
        print(f"release-check: REFUSED, {len(report.problems)} problem(s), version {report.version}", file=sys.stderr)
        return 1
    print(f"release-check: version {report.version} ({report.tag}) is the same everywhere")
    if "no tag" in " ".join(report.checked):
        print(f'to release: commit, then  git tag -a {report.tag} -m "convbook {report.version}"  and make release')
    return 0
