"""Textual stylesheets, installed as the package ``vidwatch.styles``."""
