"""Recipes: one module per experiment (a paper's table or figure), each a function taking a
config dataclass and returning a result dataclass with ``to_dict()`` and ``write(folder)``."""
