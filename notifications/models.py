"""Outgoing messages and incoming calendar replies."""
