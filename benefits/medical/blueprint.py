"""The medical benefit's page blueprint: admin pages (`admin_pages.py`) and the member page
(`member_pages.py`) register on it; `views.py` hands it to the app."""
from flask import Blueprint

bp = Blueprint("medical", __name__)
