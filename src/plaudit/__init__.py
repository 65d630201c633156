"""Plaudit: a self-hosted gamification engine with a Trophy-compatible API."""

__version__ = "0.1.0"
