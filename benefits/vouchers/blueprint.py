"""The vouchers' page blueprint: admin pages (`admin_pages.py`) and member pages
(`member_pages.py`) register on it; `views.py` hands it to the app."""
from flask import Blueprint

bp = Blueprint("vouchers", __name__)
