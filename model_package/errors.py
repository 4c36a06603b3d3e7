"""The errors model_package raises for input it cannot work with, under one base class."""

from __future__ import annotations


class ModelPackageError(Exception):
    """Base of every error the package raises for bad input; the message is safe to show as one line.

    Anything else the package raises is a bug and should keep its traceback.
    """


class ArtifactError(ModelPackageError):
    """An artifact that cannot be saved or used; the message names the problem."""


# DataFileError and TrainingError stay ValueErrors: callers that caught ValueError keep working.
class DataFileError(ModelPackageError, ValueError):
    """A transaction file that cannot be read; the message is one line naming the problem."""


class TrainingError(ModelPackageError, ValueError):
    """Data or options the training protocol cannot work with; the message is one line."""
