"""Let the single-page HTML build (the PDF edition's source) render myst-nb's folded cells.

myst-nb registers the visitors of ``HideCodeCellNode`` (cells tagged ``hide-input``, ``hide-output``, ``hide-cell``)
for the ``html`` builder only. Sphinx falls back from a builder's name to its format only when no extension registered
handlers under that name, and for ``singlehtml`` one has, so the folded cells stopped the PDF build with "unknown node
type". This registers the same visitors under ``singlehtml``.
"""

from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput, visit_HideCellInput


def setup(app):
    app.add_node(HideCodeCellNode, override=True, singlehtml=(visit_HideCellInput, depart_HideCellInput))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
