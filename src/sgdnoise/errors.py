"""The exceptions sgdnoise raises for problems a user can cause and fix.

Every error derives from :class:`SgdNoiseError`, so ``except SgdNoiseError`` catches all of
them, and each also derives from the built-in exception a caller would expect
(``ValueError``, ``FileNotFoundError``, ...), so generic handlers keep working. Messages say
what was wrong *and* what to do about it.
"""

from __future__ import annotations


class SgdNoiseError(Exception):
    """Base class of every error sgdnoise raises on purpose."""


class InvalidInputError(SgdNoiseError, ValueError):
    """An argument has the wrong shape, type, range or value (NaN/Inf included)."""


class TooFewSamplesError(InvalidInputError):
    """A sample is too small for the requested estimate (e.g. fewer than 20 draws per row)."""


class ConfigError(SgdNoiseError, ValueError):
    """A configuration value or command-line option is unknown or inconsistent."""


class DataFileError(SgdNoiseError, OSError):
    """A data, checkpoint or result file is missing, unreadable or has the wrong layout."""


class ConvergenceError(SgdNoiseError, RuntimeError):
    """An iterative algorithm did not reach the requested accuracy."""


class TaskFailedError(SgdNoiseError, RuntimeError):
    """A task of a run (a shard: some seeds, a sweep point, a chunk of mini-batches, a step) kept
    failing; the message names it, and the shards that finished are kept for a rerun."""
