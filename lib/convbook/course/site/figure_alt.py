"""Every figure has a text alternative that says what it shows: in the built HTML and in the notebooks.

The rule for one text is :func:`convbook.plotting.alt_text.alt_text_problems` (no file name or path, no hash, at
least a few words). This module applies it where figures appear:

* :func:`html_alt_problems`: one HTML page (the site's, or the single-page build that the PDF is printed from). Every
  ``<img>`` is checked, except the theme's button icons (an ``<img>`` inside ``.btn__icon-container``, whose button
  text names it); every animation player (``.convbook-player``) needs a ``role`` and an ``aria-label`` that pass.
* :func:`notebook_alt_problems`: one notebook. A code cell with an image output needs ``mystnb.image.alt`` in its
  metadata (myst-nb puts it on the ``<img>``; without it the alternative is the file name); an animation player in
  an output is checked as HTML.
* :func:`site_alt_problems` and :func:`check_site_alt`: every page of a built site, counted for the site check.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import nbformat

from convbook.course.site.pages import ASSET_DIRS
from convbook.course.site.report import Report
from convbook.plotting.alt_text import alt_text_problems

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")


class _Figures(HTMLParser):
    """Collect the ``<img>`` elements (outside the theme's button icons) and the animation players of a page.

    ``images`` holds each image's attributes, plus ``"player"``: the index of the player it belongs to, or None.
    """

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.images: list[dict] = []
        self.players: list[dict] = []
        self._icon_depth = 0  # > 0 inside a .btn__icon-container <span>
        self._player_depth = 0  # > 0 inside a .convbook-player <div>

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if self._icon_depth:
            self._icon_depth += tag == "span"
        elif tag == "span" and "btn__icon-container" in classes:
            self._icon_depth = 1
        if self._player_depth:
            self._player_depth += tag == "div"
        elif tag == "div" and "convbook-player" in classes:
            self._player_depth = 1
            self.players.append(attrs)
        if tag == "img" and not self._icon_depth:
            self.images.append(attrs | {"player": len(self.players) - 1 if self._player_depth else None})

    def handle_startendtag(self, tag, attrs):
        if tag not in ("span", "div"):  # a self-closed <span/> or <div/> opens nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if self._icon_depth and tag == "span":
            self._icon_depth -= 1
        if self._player_depth and tag == "div":
            self._player_depth -= 1


def _src(attrs: dict) -> str:
    src = attrs.get("src") or "(no src)"
    return src[:40] + "..." if src.startswith("data:") else src


def html_figures(html_text: str) -> tuple[list[dict], list[dict]]:
    """The ``<img>`` attributes (theme button icons left out; ``"player"``: the index of the animation player an
    image is the frame of, or None) and the animation players' attributes of a page."""
    if not isinstance(html_text, str):
        raise TypeError(f"html_text must be the page's HTML as a str, got {type(html_text).__name__}")
    parser = _Figures()
    parser.feed(html_text)
    parser.close()
    return parser.images, parser.players


def _per_figure(html_text: str, where: str) -> list[tuple[str, list[str]]]:
    """Each image of a page, named, with its problems (an empty list when its alternative is fine). An animation's
    frame also carries its player's problems (role and label); a player with no image is listed on its own."""
    images, players = html_figures(html_text)
    prefix = f"{where}: " if where else ""
    player_problems = []
    for attrs in players:
        label = attrs.get("aria-label")
        name = f"animation player {attrs.get('id', '(no id)')} aria-label={label!r}"
        role = [] if attrs.get("role") else ["no role (a group labelled with what it shows)"]
        player_problems.append([f"{name}: {p}" for p in role + alt_text_problems(label)])
    found = []
    for attrs in images:
        own = alt_text_problems(attrs.get("alt"))
        extra = player_problems[attrs["player"]] if attrs["player"] is not None else []
        found.append((f"{prefix}<img src={_src(attrs)}> alt={attrs.get('alt')!r}", own + extra))
    framed = {attrs["player"] for attrs in images}
    for i, attrs in enumerate(players):
        if i not in framed:
            found.append((f"{prefix}animation player {attrs.get('id', '(no id)')}", ["no frame image"]))
    return found


def html_alt_problems(html_text: str, where: str = "") -> list[str]:
    """The figures of one HTML page whose text alternative is missing or is not a description.

    Parameters
    ----------
    html_text : str
        The page's HTML, e.g. ``Path("_build/html/chapters/notation.html").read_text()`` or the single-page build
        the PDF is printed from.
    where : str
        A prefix for the messages (the page's path).

    Returns
    -------
    list of str
        One message per problem, naming the image's ``src`` (or the player) and what is wrong; empty when every
        figure has a real alternative.
    """
    return [f"{figure}: {problem}" for figure, problems in _per_figure(html_text, where) for problem in problems]


def notebook_alt_problems(nb, where: str = "") -> list[str]:
    """The figure-making cells of one notebook that lack a real text alternative.

    Parameters
    ----------
    nb : nbformat.NotebookNode, dict or path-like
        The notebook (read with nbformat, as a plain dict, or a path to the ``.ipynb``).
    where : str
        A prefix for the messages (default: the path, when one is given).

    Returns
    -------
    list of str
        One message per problem, naming the cell (id, else index); empty when every figure has a real alternative.
    """
    if isinstance(nb, (str, Path)):
        where = where or str(nb)
        nb = nbformat.read(nb, as_version=4)
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise TypeError(f"nb must be a notebook (a dict with 'cells', or a path), got {type(nb).__name__}")
    prefix = f"{where}: " if where else ""
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "code":
            continue
        name = f"{prefix}cell {cell.get('id', index)}"
        outputs = [out.get("data", {}) for out in cell.get("outputs", [])]
        if any(t in data for data in outputs for t in IMAGE_TYPES):
            alt = ((cell.get("metadata", {}).get("mystnb") or {}).get("image") or {}).get("alt")
            problems += [f"{name}: mystnb.image.alt={alt!r}: {p}" for p in alt_text_problems(alt)]
        for data in outputs:
            html = data.get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            if "convbook-player" in html:
                problems += html_alt_problems(html, name)
    return problems


def site_alt_problems(site: Path) -> tuple[int, int, list[str]]:
    """Every page of a built site (asset folders left out).

    Returns
    -------
    figures : int
        Images on all pages (theme button icons left out; an animation's frame is one image).
    good : int
        Those whose text alternative passes (for an animation's frame, its player's role and label too).
    problems : list of str
        One message per problem, naming the page and the figure.
    """
    site = Path(site)
    if not site.is_dir():
        raise ValueError(f"site must be a built site's folder, got {site} (not a folder)")
    figures = good = 0
    problems = []
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site)
        if rel.parts[0] in ASSET_DIRS:
            continue
        for figure, found in _per_figure(path.read_text(encoding="utf-8", errors="replace"), rel.as_posix()):
            figures += 1
            good += not found
            problems += [f"{figure}: {problem}" for problem in found]
    return figures, good, problems


def check_site_alt(site: Path, report: Report) -> None:
    """The site check's part (``check-site``): count the figures, fail on each one without a real alternative."""
    figures, good, problems = site_alt_problems(site)
    report.counts["figures"] = figures
    report.counts["figures with a text alternative"] = good
    for problem in problems:
        report.fail("text alternatives", problem)
