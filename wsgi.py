"""gunicorn entry point: `gunicorn wsgi:app`."""
from benefits import create_app

app = create_app()
