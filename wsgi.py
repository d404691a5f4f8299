"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``. Production configuration by default."""

from app import create_app

app = create_app()
