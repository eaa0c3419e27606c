"""The gateway: the HTTP API (skills, graders, health) and the read model it answers from.

``create_app(settings)`` (in ``app``) builds the Litestar app; ``python -m skill_adapter.gateway``
serves it. Importing this package does nothing else: API keys (``keys``) work without Litestar.
"""
