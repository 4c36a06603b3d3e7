from __future__ import annotations

import pytest

from model_package import artifacts, io, train
from model_package.errors import ArtifactError, DataFileError, ModelPackageError, TrainingError


@pytest.mark.parametrize("error", [ArtifactError, DataFileError, TrainingError])
def test_every_bad_input_error_shares_the_package_base(error):
    assert issubclass(error, ModelPackageError)


@pytest.mark.parametrize("error", [DataFileError, TrainingError])
def test_file_and_training_errors_are_still_caught_as_value_errors(error):
    with pytest.raises(ValueError, match="one line"):
        raise error("one line")


def test_the_errors_are_importable_from_the_modules_that_raise_them():
    assert (artifacts.ArtifactError, io.DataFileError, train.TrainingError) == (
        ArtifactError,
        DataFileError,
        TrainingError,
    )
