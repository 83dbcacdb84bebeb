"""convbook.lab: the measurement kit: timing, machine facts and ceilings, data sets, and the experiments.

The layer above ``convbook.nets``: it may import the operations and the nets, never ``convbook.course``.
The experiments behind the book's measured claims run as ``python -m convbook.lab.experiments NAME``;
their stored results live in ``convbook/lab/reference/``.
"""
