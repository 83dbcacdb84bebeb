"""convbook.nets: every PyTorch model of the book, and the bridge between NumPy and torch.

The layer above the NumPy operations (``convbook``): it may import them, never ``convbook.lab`` or
``convbook.course``. Importing it imports torch.
"""
