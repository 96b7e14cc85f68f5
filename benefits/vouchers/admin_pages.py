"""Union admin pages for voucher programmes (filled in below)."""
from .blueprint import bp  # noqa: F401
