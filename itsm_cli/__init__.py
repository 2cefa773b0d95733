"""itsm: IT service management for small teams, kept as plain files in Git."""

__version__ = "0.1.0"
