"""A small model registry: `create_model(name, **overrides)` and `list_models()`.

Each architecture file registers its named variants with `@register_model`; a variant is a
function returning the model, taking keyword overrides of its default configuration.
"""
from __future__ import annotations

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
