"""What a user runs end to end: ``reproduce`` (the bundled recipes) and ``study`` (the analyses on
one's own model and data), each a list of resumable steps whose results become one report.

This layer sits above :mod:`sgdnoise.experiments` (which computes) and :mod:`sgdnoise.report`
(which renders); the CLI calls it and only parses.
"""
