"""Textual stylesheets, installed as the package ``app.styles``."""
