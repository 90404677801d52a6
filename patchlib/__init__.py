"""patchlib: reference implementations of patch-based vision models, and the code that
rebuilds their papers' figures."""
from . import convmixer, flexivit, vit  # noqa: F401  (register the model variants)
from .registry import create_model, list_models

__version__ = "0.1.0"
__all__ = ["create_model", "list_models", "__version__"]
