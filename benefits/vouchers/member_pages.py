"""Member pages: my vouchers and my messages (filled in below)."""
from .blueprint import bp  # noqa: F401
