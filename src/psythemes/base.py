"""Parameters of psythemes' configurable parts, the scikit-learn way.

Every part a job is configured with (segmenter, embedder, theme discoverer, mapper) stores its
``__init__`` arguments unchanged under the same names.  :class:`Params` reads them back from the
signature, so ``get_params`` / ``set_params`` work without listing parameters by hand, the run
manifest records exactly what each part was built with, and ``sklearn.base.clone`` and model
selection work without psythemes importing scikit-learn at start-up.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["Params"]


class Params:
    """``get_params`` / ``set_params`` from the ``__init__`` signature (as ``sklearn.base.BaseEstimator``)."""

    @classmethod
    def param_names(cls) -> list[str]:
        """The names of the ``__init__`` parameters, sorted."""
        init = cls.__init__
        if init is object.__init__:
            return []
        kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        return sorted(p.name for p in inspect.signature(init).parameters.values()
                      if p.name != "self" and p.kind not in kinds)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, by name.

        Parameters
        ----------
        deep : bool
            Also the parameters of arguments that have ``get_params`` themselves, as
            ``"name__param"``.

        Returns
        -------
        dict
        """
        out: dict[str, Any] = {}
        for name in self.param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update({f"{name}__{k}": v for k, v in value.get_params(deep=True).items()})
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Params:
        """Set constructor arguments (``"name__param"`` reaches into a nested part); returns ``self``.

        Raises
        ------
        ValueError
            A name that is not a parameter of this part.
        """
        valid = self.param_names()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"{key!r} is not a parameter of {type(self).__name__} "
                                 f"(parameters: {', '.join(valid)})")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def manifest_params(self) -> dict[str, Any]:
        """The shallow parameters as JSON-friendly values, for a run manifest (parts by class name)."""
        from .outputs import to_jsonable

        out: dict[str, Any] = {}
        for name, value in self.get_params(deep=False).items():
            if hasattr(value, "manifest_params") and not isinstance(value, type):
                out[name] = {"class": type(value).__name__, **value.manifest_params()}
            elif hasattr(value, "get_params") and not isinstance(value, type):
                out[name] = {"class": type(value).__name__}
            else:
                out[name] = to_jsonable(value) if _plain(value) else type(value).__name__
        return out


def _plain(value: Any) -> bool:
    import pathlib

    if value is None or isinstance(value, (str, int, float, bool, pathlib.PurePath)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False
