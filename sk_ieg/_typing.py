"""Type aliases shared by the pure-function modules."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

Tensor = torch.Tensor
#: Named tensors (parameters or buffers), as returned by ``dict(module.named_parameters())``.
TensorDict = Mapping[str, torch.Tensor]
#: A function of the parameters only, e.g. ``lambda p: functional_call(m, (p, b), (x,))``.
ParamFn = Callable[[TensorDict], torch.Tensor]
