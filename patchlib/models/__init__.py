"""The models: one file per architecture, shared blocks in `patchlib.layers`, every named variant
in one registry (`create_model`, `list_models`)."""
from . import convmixer, evit, flexivit, mobilevit, vit, vitpose  # noqa: F401  (register the model variants)
from .evit import EViTConfig, evit_layers
from .registry import config_record, create_model, list_models

__all__ = ["EViTConfig", "config_record", "create_model", "evit_layers", "list_models"]
