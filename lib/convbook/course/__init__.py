"""convbook.course: the book as course material: the exercises' self-checks and the builders of the student
editions. The top layer: it may import every other layer, and none imports it.

``check/`` holds the self-checks the notebooks call (NumPy only, shipped to students). Everything else is the
maintainers' and instructors' tooling (the ``course`` extra of pyproject.toml), run as
``python -m convbook.course COMMAND``: ``notebooks``, ``myst`` and ``exercises`` read the book; ``studentize`` is the
one pipeline that strips solutions for the handout (``handout``), the student website (``student_site``) and the
nbgrader release (``assignments``, ``nbgrader_source``, ``grade``); ``build`` builds the book; ``site/`` checks the
built site in a browser and prints the PDF edition; ``install_cell`` writes the notebooks' Colab cell; ``execute``
runs notebooks in place.
"""
