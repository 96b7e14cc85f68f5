"""Voucher pages: the union admin's programmes, batches and reports, and the member's vouchers."""
from . import admin_pages, member_pages  # noqa: F401  (they register their routes on `bp`)
from .blueprint import bp

__all__ = ["bp"]
