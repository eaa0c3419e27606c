"""The ``skill-adapter`` command line."""
