"""The evaluator: base vs base-with-skill vs adapter on held-out prompts, and the promotion gate."""
