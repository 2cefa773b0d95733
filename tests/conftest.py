"""Fixtures for every test; the helpers themselves live in desk_testing.py (importable by name)."""

from desk_testing import desk, isolated_env

__all__ = ["desk", "isolated_env"]
