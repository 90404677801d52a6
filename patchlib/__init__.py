"""patchlib: reference implementations of patch-based vision models, and the code that
rebuilds their papers' figures."""
from .models import create_model, list_models

__version__ = "0.1.0"
__all__ = ["create_model", "list_models", "__version__"]
