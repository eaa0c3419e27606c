"""skill-parser: validates, versions and compiles the rubric of every skill that arrives."""
