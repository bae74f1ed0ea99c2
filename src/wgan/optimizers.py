"""The papers' optimisers, as torch computes them: Adam (WGAN-GP's Algorithm 1; Kingma & Ba 2015) by torch's fused
kernel and RMSProp (WGAN's Algorithm 1; Tieleman & Hinton 2012) by its multi-tensor operations.

Adam, for gradients g_t:  m_t = b1 m + (1 - b1) g_t,  v_t = b2 v + (1 - b2) g_t^2,
                          theta -= lr (m_t / (1 - b1^t)) / (sqrt(v_t / (1 - b2^t)) + eps).
RMSProp (no momentum: WGAN Sec. 3, momentum destabilised the critic):
                          s_t = alpha s + (1 - alpha) g_t^2,  theta -= lr g_t / (sqrt(s_t) + eps).

torch.optim's classes make the same calls, but every one of them imports torch._dynamo as it is built (their
methods are wrapped to keep torch.compile out of them): 2.5 s of CPU time in each process that trains, more than
importing torch itself takes (2-core AMD EPYC), for a run whose training may take seconds. These classes make the
calls on the same tensors in the same order, so their steps are bit for bit torch's
(``tests/test_optimizers.py``), and their state dicts have torch's form: a checkpoint written by either loads in
both. They hold one group of parameters, on one device and of one dtype, as the trainer's networks have.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor


class OneGroupOptimizer:
    """One group of parameters (``param_groups[0]``, its hyperparameters beside them), the state of each
    parameter (``state``), and torch.optim's ``zero_grad``, ``state_dict`` and ``load_state_dict``; subclasses
    give ``step``. ``tensor_lr`` keeps the learning rate a tensor (set in place by the caller), also through
    :meth:`load_state_dict`: a compiled step reads it instead of being compiled again at each value; the rate
    and the step counts are then on the parameters' device, as in torch's capturable steps (which torch.compile
    makes of torch.optim's steps on a GPU)."""

    MOMENTS: tuple[str, ...] = ()  # the running averages of a parameter's state, by torch's names
    STEP_ON_PARAMETER_DEVICE = False  # torch's placement of a state's step count: with the parameter, or on the host
    # the settings torch's class records beside the hyperparameters, held fixed here: written into state dicts, so
    # that torch.optim (and an older wgan) loads them
    TORCH_SETTINGS: dict[str, Any] = {}

    def __init__(self, parameters: Iterable[Tensor], lr: float, tensor_lr: bool = False, **hyperparameters: Any):
        parameters = list(parameters)
        if not parameters:
            raise ValueError("an optimiser needs parameters to optimise")
        self.tensor_lr = tensor_lr
        self.steps_with_parameters = self.STEP_ON_PARAMETER_DEVICE or tensor_lr
        self.param_groups = [{"lr": self._rate(lr, parameters[0].device), **hyperparameters, "params": parameters}]
        # every state made now, not at its parameter's first step as torch's are: a compiled step that met the
        # states missing once would be compiled again when it meets them made
        self.state: dict[Tensor, dict[str, Tensor]] = {parameter: self._fresh(parameter) for parameter in parameters}

    def _fresh(self, parameter: Tensor) -> dict[str, Tensor]:
        """A parameter's state before its first step: the step count and each of :attr:`MOMENTS` at zero."""
        device = parameter.device if self.steps_with_parameters else None
        return {"step": torch.zeros((), dtype=torch.float32, device=device)} | {
            moment: torch.zeros_like(parameter, memory_format=torch.preserve_format) for moment in self.MOMENTS}

    def _rate(self, lr: float | Tensor, device: torch.device) -> float | Tensor:
        """The learning rate as this optimiser holds it: a float32 tensor on the parameters' device with
        ``tensor_lr``, else a number."""
        if self.tensor_lr:
            return torch.as_tensor(lr, dtype=torch.float32, device=device).clone()
        return float(lr)

    @property
    def parameters(self) -> list[Tensor]:
        return self.param_groups[0]["params"]

    def set_lr(self, lr: float) -> None:
        """The learning rate of the next steps; a tensor rate is filled in place, where a compiled step reads it."""
        if self.tensor_lr:
            self.param_groups[0]["lr"].fill_(lr)
        else:
            self.param_groups[0]["lr"] = float(lr)

    def zero_grad(self) -> None:
        """Drop the gradients (torch's ``zero_grad(set_to_none=True)``)."""
        for parameter in self.parameters:
            parameter.grad = None

    def state_dict(self) -> dict[str, Any]:
        """torch.optim's form: ``state`` by the parameter's position, and the group with its positions. The
        tensors are the optimiser's own, not copies (as torch's)."""
        position = {id(parameter): index for index, parameter in enumerate(self.parameters)}
        group = {key: value for key, value in self.param_groups[0].items() if key != "params"}
        return {"state": {position[id(parameter)]: state for parameter, state in self.state.items()},
                "param_groups": [group | self.TORCH_SETTINGS | {"params": list(range(len(self.parameters)))}]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take a :meth:`state_dict`'s (or torch.optim's) state and hyperparameters; its tensors become the
        optimiser's own, moved to the parameters' device and dtype where they are elsewhere (as torch does). A
        parameter without a state there (torch's, before its first step) starts from zero."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != 1 or len(saved_groups[0]["params"]) != len(self.parameters):
            raise ValueError("the loaded optimiser state is for other parameters than this optimiser's")
        saved = copy.deepcopy({key: value for key, value in saved_groups[0].items() if key != "params"})
        parameter_at = dict(zip(saved_groups[0]["params"], self.parameters))
        loaded = {parameter_at[index]: {key: self._placed(parameter_at[index], key, value)
                                        for key, value in state.items()}
                  for index, state in state_dict["state"].items()}
        self.state = {parameter: loaded.get(parameter) or self._fresh(parameter) for parameter in self.parameters}
        hyperparameters = {key: saved[key] for key in self.param_groups[0] if key in saved and key != "params"}
        self.param_groups[0] |= hyperparameters | {"lr": self._rate(saved["lr"], self.parameters[0].device)}

    def _placed(self, parameter: Tensor, key: str, value: Tensor) -> Tensor:
        if key == "step":
            return value.to(dtype=torch.float32, device=parameter.device) if self.steps_with_parameters else value
        return value.to(dtype=parameter.dtype, device=parameter.device)

    def _with_gradients(self) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[list[Tensor]]]:
        """(parameters, their gradients, their step counts, the tensors of each of :attr:`MOMENTS`) for the
        parameters that have a gradient."""
        parameters = [parameter for parameter in self.parameters if parameter.grad is not None]
        states = [self.state[parameter] for parameter in parameters]
        return (parameters, [parameter.grad for parameter in parameters], [state["step"] for state in states],
                [[state[moment] for state in states] for moment in self.MOMENTS])


class Adam(OneGroupOptimizer):
    """torch.optim.Adam(parameters, lr, betas, eps, fused=True): one call of torch's fused kernel a step. Like
    torch's fused Adam it takes a gradient scaler's ``grad_scale`` and ``found_inf`` (set on it by
    ``torch.amp.GradScaler.step``): a step whose gradients hold inf or NaN leaves everything as it was."""

    MOMENTS = ("exp_avg", "exp_avg_sq")
    STEP_ON_PARAMETER_DEVICE = True
    TORCH_SETTINGS = {"weight_decay": 0, "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                      "differentiable": False, "fused": True, "decoupled_weight_decay": False}
    _step_supports_amp_scaling = True  # read by torch.amp.GradScaler

    def __init__(self, parameters: Iterable[Tensor], lr: float, betas: tuple[float, float], eps: float = 1e-8):
        super().__init__(parameters, lr, betas=tuple(betas), eps=eps)

    def step(self) -> None:
        group = self.param_groups[0]
        grad_scale, found_inf = getattr(self, "grad_scale", None), getattr(self, "found_inf", None)
        with torch.no_grad():
            parameters, gradients, steps, (averages, squared_averages) = self._with_gradients()
            if not parameters:
                return
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(parameters, gradients, averages, squared_averages, [], steps, amsgrad=False,
                               lr=group["lr"], beta1=group["betas"][0], beta2=group["betas"][1], weight_decay=0.0,
                               eps=group["eps"], maximize=False, grad_scale=grad_scale, found_inf=found_inf)
            if found_inf is not None:
                torch._foreach_sub_(steps, [found_inf] * len(steps))


class RMSprop(OneGroupOptimizer):
    """torch.optim.RMSprop(parameters, lr, alpha, eps, foreach=True): six multi-tensor operations a step (on the
    CPU each a loop over the tensors; compiled, one pass). With ``tensor_lr``, its learning rate is a tensor and
    the update takes the form of torch's capturable step, which reads it on the device: dividing the denominators
    by -lr rather than passing -lr as a number, which a compiled step would read back to the host, breaking its
    graph before the update."""

    MOMENTS = ("square_avg",)
    TORCH_SETTINGS = {"momentum": 0, "centered": False, "weight_decay": 0, "capturable": False, "foreach": True,
                      "maximize": False, "differentiable": False}

    def __init__(self, parameters: Iterable[Tensor], lr: float, alpha: float = 0.99, eps: float = 1e-8,
                 tensor_lr: bool = False):
        super().__init__(parameters, lr, tensor_lr, alpha=alpha, eps=eps)

    def step(self) -> None:
        group = self.param_groups[0]
        with torch.no_grad():
            parameters, gradients, steps, (squared_averages,) = self._with_gradients()
            if not parameters:
                return
            torch._foreach_add_(steps, 1)
            torch._foreach_mul_(squared_averages, group["alpha"])
            torch._foreach_addcmul_(squared_averages, gradients, gradients, value=1 - group["alpha"])
            denominators = torch._foreach_sqrt(squared_averages)
            torch._foreach_add_(denominators, group["eps"])
            if self.tensor_lr:
                torch._foreach_div_(denominators, -group["lr"])
                torch._foreach_addcdiv_(parameters, gradients, denominators)
            else:
                torch._foreach_addcdiv_(parameters, gradients, denominators, value=-group["lr"])
