"""Medical-benefit pages: the union admin's programmes, imports, batches, files and totals, and
the member's consolation payments."""
from . import admin_pages, member_pages  # noqa: F401  (they register their routes on `bp`)
from .blueprint import bp

__all__ = ["bp"]
