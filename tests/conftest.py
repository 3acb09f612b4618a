"""Shared fixtures. Fixtures for one area live in that area's conftest.py."""
