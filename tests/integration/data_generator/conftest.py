"""The tiny random model of the inference tests, for a gateway the generator samples from."""

from tests.integration.inference.conftest import tiny_model_path

__all__ = ["tiny_model_path"]
