"""A small model registry: `create_model(name, **overrides)` and `list_models()`.

Each architecture file registers its named variants with `@register_model`; a variant is a
function returning the model, taking keyword overrides of its default configuration.
"""
from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Callable

from torch import nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    if fn.__name__ in _MODELS:
        raise ValueError(f"model {fn.__name__!r} is registered twice")
    _MODELS[fn.__name__] = fn
    return fn


def list_models(pattern: str = "") -> list[str]:
    """Names of the registered models containing `pattern`, sorted."""
    return sorted(name for name in _MODELS if pattern in name)


def create_model(name: str, **overrides) -> nn.Module:
    """Build the registered model `name`; keyword arguments override its configuration."""
    try:
        factory = _MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(list_models())}") from None
    return factory(**overrides)


def config_record(config) -> dict:
    """A model config as plain data for result records: its fields, nested configs as dicts, and
    optional parts that are off (None) left out, so that adding an option to a model does not
    change the record, nor the hash of results keyed on it, of models that do not use it."""
    if not is_dataclass(config):
        raise TypeError(f"expected a dataclass config, got {type(config).__name__}")
    record = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if value is None and f.default is None:
            continue
        record[f.name] = config_record(value) if is_dataclass(value) else (list(value) if isinstance(value, tuple) else value)
    return record
