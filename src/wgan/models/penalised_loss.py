"""The WGAN-GP critic loss of a piecewise-linear critic and its weight gradient, in one pass without autograd.

For a critic f(x) = w^T a(A_L ... a(A_1 x + b_1) ... + b_L) + c whose layers A_l are linear maps, dense (the
WGAN-GP toy experiments' MLP: three hidden layers of 512) or convolutions (the DCGAN critic without
normalisation), with a ReLU or leaky ReLU a, the loss on a batch of real x, generated y and interpolates x_hat
(Gulrajani et al. 2017, Algorithm 1)

    loss = mean f(y) - mean f(x) + lambda mean_i (||g_i||_2 - 1)^2,   g_i = grad_x f(x_hat_i)
         = A_1^T D_1 A_2^T ... A_L^T D_L w      (D_l = diag a'(pre-activation l) at x_hat_i)

(for a convolution A^T is its transposed convolution) needs, per hidden layer, one map forward
(h_l = a(A_l h_{l-1} + b_l)), one adjoint down the chain (e_{l-1} = A_l^T D_l e_l) and, for the weight gradient,
two more: the loss rows' dL/dA_l = sum_i d_i h_{l-1,i}^T
and the penalty's second derivative through the chain (its slopes D_l carry no gradient, a'' = 0 almost
everywhere; see :mod:`wgan.models.piecewise`). Autograd runs each of these once per batch (real, generated,
interpolates) and keeps a graph; here the three batches stand in one batch of 3n rows:

- forward: one map per layer over [x; y; x_hat];
- chain: the loss's backward pass (output gradient -1/n on real rows, +1/n on generated ones) and the penalty's
  input gradient (output gradient 1 on interpolate rows) are the same adjoint, e_{l-1} = A_l^T D_l e_l, so one
  call per layer serves both (the first layer's on the interpolate rows only);
- weight gradient: dA_l = E_l^T [h_{l-1} on real and generated rows; the penalty's gradient with respect to
  e_{l-1} on interpolate rows], one call per layer, the second half written over activations no longer needed;
  plus one map per layer, on the interpolate rows, to carry the penalty's gradient down the chain; a dense top
  layer (an MLP's) instead takes one product over the interpolate rows for its own and the output's penalty parts
  (:func:`_dense_top_gradients`: the toy 1.03-1.04x, in-process A/B).

Against the same trainer with autograd's passes (2-core Intel Xeon with AMX, docs/BENCHMARKS.md): the toy
1.07x in float32 and 1.11x in bf16, DCGAN 32 WGAN-GP 1.08-1.17x in float32 and 1.08x in bf16.

Under bf16 autocast every map takes bf16 inputs (the weights cast once per step, not once per use), a dense
layer's product adds its bias and applies the activation in the same oneDNN call (1.05x of the toy's 1.11x), and
the gradients are returned in float32, as autograd would accumulate them. The bias gradients are summed over the bf16
rows (accumulated in float32, the sum rounded to bf16, as autograd's gradient of a bias cast by autocast is) and
only then converted: ``sum(dtype=float32)`` would first copy the rows to float32. In float32 the DCGAN critic's
layers onto 4x4 maps, and onto 8x8 maps where :func:`wgan.models.winograd.pays` says so, run by Winograd's
algorithm (onto 8x8 maps the adjoint is oneDNN's), each transform made once: the forward pass's input tiles serve the
weight gradient, the adjoint's output-gradient tiles too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..cpu_precision import onednn_multiplies_float32_faster, runs_natively
from . import fast_convs, piecewise, winograd
from .activations import activation as out_of_place_activation


def _activation_backward_(gradient: Tensor, output: Tensor, negative_slope: float) -> Tensor:
    """gradient * a'(pre-activation), with a' read off a's output (same sign as its input for these slopes).
    Eagerly it is written over ``gradient`` (always a map's fresh result here, so no new buffer is filled); see
    :func:`_activation` for why not under torch.compile."""
    if torch.compiler.is_compiling():
        if negative_slope:
            return torch.ops.aten.leaky_relu_backward(gradient, output, negative_slope, True)
        return torch.ops.aten.threshold_backward(gradient, output, 0)
    if negative_slope:
        return torch.ops.aten.leaky_relu_backward.grad_input(gradient, output, negative_slope, True,
                                                             grad_input=gradient)
    return torch.ops.aten.threshold_backward.grad_input(gradient, output, 0, grad_input=gradient)


def _activation(pre_activation: Tensor, negative_slope: float) -> Tensor:
    """a(pre_activation): eagerly in place; under torch.compile out of place, because a write through the view
    of a product's output (a convolution's rows seen as maps) made Inductor rebuild each later read of the maps
    from the product's rows with integer division, in scalar loops (DCGAN 32 WGAN-GP bf16 under --compile: 1.07x
    with both functions out of place, in-process A/B, 2-core Intel Xeon with AMX); Inductor fuses them either
    way."""
    if torch.compiler.is_compiling():
        return out_of_place_activation(pre_activation, negative_slope)
    if negative_slope:
        return torch.nn.functional.leaky_relu_(pre_activation, negative_slope)
    return pre_activation.relu_()


def _onednn_float32(x: Tensor) -> bool:
    """Whether a dense layer's float32 product with ``x`` goes to oneDNN: on a CPU whose oneDNN multiplies in
    float32 faster than MKL (:func:`wgan.cpu_precision.onednn_multiplies_float32_faster`), eagerly (Inductor
    chooses its own products)."""
    return (x.dtype == torch.float32 and x.device.type == "cpu" and not torch.compiler.is_compiling()
            and onednn_multiplies_float32_faster())


def _onednn_product(x: Tensor, weight: Tensor, bias: Tensor | None = None, negative_slope: float | None = None
                    ) -> Tensor:
    """x weight^T (+ bias), and with ``negative_slope`` its (leaky) ReLU, in one oneDNN call: the activation and
    the bias are applied to each tile of the product as it is computed."""
    attribute, scalars = ("none", [None]) if negative_slope is None else \
        ("leaky_relu", [negative_slope]) if negative_slope else ("relu", [None])
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, attribute, scalars, "")


class _Dense:
    """An ``nn.Linear`` layer x -> x W^T + b, its weights cast to ``dtype``; inputs are rows (n, features).
    Its float32 products go to oneDNN where that is faster (:func:`_onednn_float32`: the toy 1.04-1.06x in float32,
    in-process A/B, 2-core AMD EPYC with AVX-512, 2026-12-07; its weight gradient stays MKL's, which was not slower
    there), torch's elsewhere."""

    def __init__(self, linear: nn.Linear, dtype: torch.dtype):
        self.weight = linear.weight.detach().to(dtype)
        self.bias = linear.bias.detach().to(dtype)

    def __call__(self, x: Tensor) -> Tensor:
        if _onednn_float32(x):
            return _onednn_product(x, self.weight, self.bias)
        return torch.addmm(self.bias, x, self.weight.t())

    def activated(self, x: Tensor, negative_slope: float) -> Tensor:
        """a(x W^T + b). In bf16 on the CPU (and in float32 where oneDNN's products are the faster) one oneDNN
        product adds the bias and applies a to each tile as it is computed, where addmm first fills the output
        with the bias and a then passes over it again (the toy's 768x512 layers: 1.1 ms against 1.4, 2-core Intel
        Xeon with AMX; the same values)."""
        bf16_natively = (x.dtype == torch.bfloat16 and x.device.type == "cpu" and runs_natively("bf16")
                         and not torch.compiler.is_compiling())  # Inductor fuses the bias and activation itself
        if not (bf16_natively or _onednn_float32(x)):
            return _activation(self(x), negative_slope)
        return _onednn_product(x, self.weight, self.bias, negative_slope)

    def linear(self, x: Tensor) -> Tensor:
        """x W^T: the map without its bias."""
        if _onednn_float32(x):
            return _onednn_product(x, self.weight)
        return x @ self.weight.t()

    def adjoint(self, y: Tensor) -> Tensor:
        if _onednn_float32(y):
            return _onednn_product(y, self.weight.t())
        return y @ self.weight

    def gradients(self, x: Tensor, dy: Tensor, loss_rows: int, dtype: torch.dtype) -> list[Tensor]:
        """[dW, db] in ``dtype``: dy^T x over all rows, and dy summed over the first ``loss_rows`` (the only rows
        whose output depends on the bias)."""
        return [(dy.t() @ x).to(dtype), dy[:loss_rows].sum(0).to(dtype)]


class _Convolution:
    """A bias-free convolution of :mod:`wgan.models.fast_convs` (or torch's), its weight cast to ``dtype``."""

    def __init__(self, conv: nn.Conv2d, dtype: torch.dtype):
        self.conv = conv
        self.weight = conv.weight.detach().to(dtype)

    def __call__(self, x: Tensor) -> Tensor:
        return fast_convs.convolve(self.conv, x, self.weight)

    linear = __call__

    def activated(self, x: Tensor, negative_slope: float) -> Tensor:
        """a(conv(x)) (oneDNN's fused forms were no faster here)."""
        return _activation(self(x), negative_slope)

    def adjoint(self, y: Tensor) -> Tensor:
        return fast_convs.adjoint(self.conv, y, self.weight)

    def gradients(self, x: Tensor, dy: Tensor, loss_rows: int, dtype: torch.dtype) -> list[Tensor]:
        """[dW] in ``dtype``, over all rows."""
        return [fast_convs.weight_gradient(self.conv, x, dy, self.weight).to(dtype)]


class _WinogradConvolution(_Convolution):
    """A stride-2 convolution onto a 4x4 or 8x8 map in float32, by :mod:`wgan.models.winograd`, making each
    transform once: the kernel U per step, the input's tiles V in the forward pass (for the weight gradient only
    the interpolate rows, overwritten by then, are made again), the output gradient's tiles dM in the adjoint (the
    weight gradient takes the same rows). Onto an 8x8 map the adjoint is oneDNN's, as in the layer's own backward
    pass."""

    def __init__(self, conv: nn.Conv2d, dtype: torch.dtype):
        super().__init__(conv, dtype)
        self.kernel = winograd.kernel(self.weight)
        self._input = self._tiles = self._gradient = self._gradient_tiles = None

    def __call__(self, x: Tensor) -> Tensor:
        self._input, self._tiles = x, winograd.tiles(x)
        return winograd.output(self._tiles, self.kernel, x.shape[-1] // 2)

    def linear(self, x: Tensor) -> Tensor:
        return winograd.output(winograd.tiles(x), self.kernel, x.shape[-1] // 2)

    def adjoint(self, y: Tensor) -> Tensor:
        if y.shape[-1] != winograd.SIDE:
            return super().adjoint(y)
        self._gradient, self._gradient_tiles = y, winograd.gradient_tiles(y)
        return winograd.input_gradient(self._gradient_tiles, self.kernel)

    def gradients(self, x: Tensor, dy: Tensor, loss_rows: int, dtype: torch.dtype) -> list[Tensor]:
        """[dW] in ``dtype``, over all rows; ``x`` is the forward pass's input with the rows from ``loss_rows`` on
        written over."""
        if x is self._input:
            tiles = self._tiles
            tiles.view(25, len(x), -1)[:, loss_rows:] = winograd.tiles(x[loss_rows:]).view(25, len(x) - loss_rows, -1)
        else:
            tiles = winograd.tiles(x)
        gradient_tiles = self._gradient_tiles if dy is self._gradient else winograd.gradient_tiles(dy)
        return [winograd.weight_gradient_of_tiles(gradient_tiles, tiles).to(dtype)]


def _cast_layer(layer: nn.Module, dtype: torch.dtype, x: Tensor) -> _Dense | _Convolution:
    """The layer that takes the input ``x``, its weights cast to ``dtype``."""
    if isinstance(layer, nn.Linear):
        return _Dense(layer, dtype)
    if isinstance(layer, fast_convs.StridedConv2d) and winograd.pays(x):
        return _WinogradConvolution(layer, dtype)
    return _Convolution(layer, dtype)


def _loss_and_gradients(real: Tensor, fake: Tensor, e: Tensor, penalty_weight: float, one_sided: bool,
                        negative_slope: float, dtype: torch.dtype, modules: list[nn.Module]
                        ) -> tuple[Tensor, Tensor, Tensor, Tensor, list[Tensor]]:
    """The loss, estimate, penalty and gradient norms, and the loss's gradient with respect to each parameter of
    ``modules`` (in their order), in one pass (the module's docstring); a pure function of tensors, which
    torch.compile can take whole."""
    n = len(real)
    wide = torch.promote_types(dtype, torch.float32)  # where scalars, norms and gradients are kept
    interpolates = torch.lerp(fake, real, e.reshape(n, *(1,) * (real.dim() - 1)))
    activations = [torch.cat([real, fake, interpolates]).to(dtype)]
    hidden = []
    for module in modules[:-1]:
        hidden.append(_cast_layer(module, dtype, activations[-1]))
        activations.append(hidden[-1].activated(activations[-1], negative_slope))
    output = _cast_layer(modules[-1], dtype, activations[-1])
    scores = output(activations[-1][: 2 * n])
    estimate = scores[:n].to(wide).mean() - scores[n:].to(wide).mean()

    # d loss / d f: -1/n on real rows, +1/n on generated ones; d f / d f = 1 on interpolate rows (the chain)
    row_gradient = torch.ones(3 * n, *scores.shape[1:], device=real.device, dtype=wide)
    row_gradient[:n], row_gradient[n: 2 * n] = -1 / n, 1 / n
    row_gradient = row_gradient.to(dtype)
    # chain[k]: the gradient at the pre-activation of the k-th hidden layer from the top, on all rows; last,
    # the input gradient at the interpolates
    chain = [output.adjoint(row_gradient)]
    for depth, (layer, activation) in enumerate(zip(reversed(hidden), reversed(activations[1:]))):
        chain[-1] = _activation_backward_(chain[-1], activation, negative_slope)
        chain.append(layer.adjoint(chain[-1] if depth < len(hidden) - 1 else chain[-1][2 * n:]))
    input_gradient = chain[-1][-n:].to(wide)

    norms = input_gradient.flatten(1).norm(dim=1)
    excess = norms - 1
    if one_sided:
        excess = excess.clamp(min=0)
    penalty = penalty_weight * excess.square().mean()
    loss = penalty - estimate

    # the penalty's gradient with respect to the chain, from its input end upwards
    scale = 2 * penalty_weight / n * excess / norms.clamp(min=torch.finfo(norms.dtype).tiny)
    down = (input_gradient * scale.reshape(n, *(1,) * (input_gradient.dim() - 1))).to(dtype)
    gradients = []
    dense_top = bool(hidden) and isinstance(hidden[-1], _Dense)
    for depth, layer in enumerate(hidden[:-1] if dense_top else hidden):
        # rows 2n: of activations[depth] are spent: they become the penalty's gradient at the chain there
        activations[depth][2 * n:] = down
        gradients += layer.gradients(activations[depth], chain[-2 - depth], 2 * n, wide)
        down = _activation_backward_(layer.linear(down), activations[depth + 1][2 * n:], negative_slope)
    if dense_top:
        gradients += _dense_top_gradients(hidden[-1], output, activations[-2], activations[-1], chain[0], down,
                                          row_gradient, 2 * n, negative_slope, wide)
    else:
        activations[-1][2 * n:] = down
        gradients += output.gradients(activations[-1], row_gradient, 2 * n, wide)
    return loss, estimate, penalty, norms, gradients


def _dense_top_gradients(top: _Dense, output: _Dense, below: Tensor, above: Tensor, chain: Tensor, down: Tensor,
                         row_gradient: Tensor, loss_rows: int, negative_slope: float, dtype: torch.dtype
                         ) -> list[Tensor]:
    """[dW, db, dw, dc] of a dense top hidden layer h = a(W x + b) (input ``below``, output ``above``) and of the
    output f = w^T h + c, where the rows from ``loss_rows`` on are the interpolates, ``chain`` is the loss's
    gradient at W x + b and ``down`` the penalty's gradient r at x on the interpolate rows.

    On those rows the chain is D w (D = diag a'(W x + b)), so the penalty's part of dW is sum_i D_i w r_i^T
    = diag(w) M with M = sum_i D_i r_i^T, and its part of dw, sum_i D_i W r_i, is the row sums of W * M: one
    product M over the interpolate rows in place of two (W r carried up to the output, and the chain's rows in
    dW): the toy's critic step multiplies 21 times 256x512 by 512x512 instead of 22."""
    slopes = piecewise.activation_slopes(above[loss_rows:], negative_slope)  # a's output has its input's sign
    crossed = slopes.t() @ down  # M
    weight_gradient, bias_gradient = top.gradients(below[:loss_rows], chain[:loss_rows], loss_rows, dtype)
    output_weight_gradient, output_bias_gradient = output.gradients(above[:loss_rows], row_gradient[:loss_rows],
                                                                    loss_rows, dtype)
    weight_gradient = weight_gradient + output.weight.to(dtype).t() * crossed
    output_weight_gradient = output_weight_gradient + (top.weight.to(dtype) * crossed).sum(1)
    return [weight_gradient, bias_gradient, output_weight_gradient, output_bias_gradient]


@functools.cache
def _compiled_loss_and_gradients() -> Callable:
    """torch.compile of the whole pass (``compiled=True``), made at its first use (importing the compiler takes
    seconds); one compilation per configuration, at its first call."""
    return torch.compile(_loss_and_gradients, dynamic=False)


class _PenalisedLoss(torch.autograd.Function):
    """loss(weights) with its gradient found in the forward pass; backward scales it by the output's gradient."""

    @staticmethod
    def forward(ctx, real: Tensor, fake: Tensor, e: Tensor, penalty_weight: float, one_sided: bool,
                negative_slope: float, dtype: torch.dtype, compiled: bool, modules: list[nn.Module],
                *parameters: Tensor):
        loss_and_gradients = _compiled_loss_and_gradients() if compiled else _loss_and_gradients
        loss, estimate, penalty, norms, gradients = loss_and_gradients(real, fake, e, penalty_weight, one_sided,
                                                                       negative_slope, dtype, modules)
        ctx.save_for_backward(*gradients)
        ctx.mark_non_differentiable(estimate, penalty, norms)
        return loss, estimate, penalty, norms

    @staticmethod
    def backward(ctx, loss_gradient: Tensor, *unused: Tensor):
        no_gradient = (None,) * (len(ctx.needs_input_grad) - len(ctx.saved_tensors))  # the batches and settings
        return no_gradient + tuple(gradient * loss_gradient for gradient in ctx.saved_tensors)


def penalised_critic_loss(layers: list[nn.Module], negative_slope: float, real: Tensor, fake: Tensor, e: Tensor,
                          penalty_weight: float, one_sided: bool = False, compiled: bool = False
                          ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The WGAN-GP (or, ``one_sided``, WGAN-LP) critic loss of the critic made of ``layers`` (hidden layers
    followed by the output layer, activation of ``negative_slope`` between them; ``nn.Linear`` layers, or
    bias-free convolutions of :mod:`wgan.models.fast_convs`), differentiable with respect to their parameters.

    Parameters
    ----------
    real, fake : Tensor
        (n, ...) samples in the first layer's input shape; the interpolates are ``lerp(fake, real, e)``.
    e : Tensor
        n interpolation weights, one per sample, in any shape of n elements.
    compiled : bool
        Run the pass through torch.compile (the trainer's ``--compile``): Inductor fuses its elementwise work;
        the first call per configuration compiles it.

    Returns
    -------
    loss, estimate, penalty, norms
        The loss mean f(fake) - mean f(real) + penalty, the estimate mean f(real) - mean f(fake), the penalty
        and the (n,) gradient norms at the interpolates; all but the loss detached.
    """
    device = real.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else layers[0].weight.dtype
    parameters = [parameter for layer in layers for parameter in layer.parameters(recurse=False)]
    with torch.autocast(device, enabled=False):
        return _PenalisedLoss.apply(real, fake, e, penalty_weight, one_sided, negative_slope, dtype, compiled,
                                    layers, *parameters)


class PenalisedLossMixin:
    """Gives a critic :meth:`penalised_loss`: a critic whose ``net`` is dense layers or bias-free convolutions
    with a ReLU or leaky ReLU of ``negative_slope`` between them, when ``piecewise_linear`` says it has no
    normalisation or other layer."""

    net: nn.Sequential
    negative_slope: float | None
    piecewise_linear: bool

    def penalised_loss(self, real: Tensor, fake: Tensor, e: Tensor, penalty_weight: float, one_sided: bool = False,
                       compiled: bool = False) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The WGAN-GP critic loss at ``real``, ``fake`` and their interpolates ``lerp(fake, real, e)``, with its
        weight gradient found in one pass over the three batches (:func:`penalised_critic_loss`, through
        torch.compile if ``compiled``); returns the loss, the estimate, the penalty and the gradient norms at the
        interpolates."""
        if not self.piecewise_linear:
            raise TypeError("penalised_loss needs a ReLU or leaky-ReLU critic without normalisation")
        layers = [layer for layer in self.net if isinstance(layer, (nn.Linear, nn.Conv2d))]
        if isinstance(layers[0], nn.Linear):
            real, fake = real.flatten(1), fake.flatten(1)
        return penalised_critic_loss(layers, self.negative_slope, real, fake, e, penalty_weight, one_sided,
                                     compiled)
