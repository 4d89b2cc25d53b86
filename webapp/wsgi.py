"""WSGI entry point for any server, e.g. `gunicorn -w 4 'webapp.wsgi:app'` against PostgreSQL."""

from webapp import create_app

app = create_app()
