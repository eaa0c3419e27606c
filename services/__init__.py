"""Agent Skill Adapter: teach a language model to follow an Agent Skill, prove it, serve it."""

__version__ = "0.1.0"
