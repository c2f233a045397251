"""Fieldbook server: the Flask application, its models, services, API and pages."""

from server.app import create_app

__all__ = ["create_app"]
