"""The WGAN-GP critic loss of a piecewise-linear MLP critic and its weight gradient, in one pass without autograd.

For the critic f(x) = w^T a(W_L ... a(W_1 x + b_1) ... + b_L) + c with a ReLU or leaky ReLU (WGAN-GP toy
experiments: three hidden layers of 512), the loss on a batch of real x, generated y and interpolates x_hat
(Gulrajani et al. 2017, Algorithm 1)

    loss = mean f(y) - mean f(x) + lambda mean_i (||g_i||_2 - 1)^2,   g_i = grad_x f(x_hat_i)
         = W_1^T D_1 W_2^T ... W_L^T D_L w      (D_l = diag a'(pre-activation l) at x_hat_i)

needs, per hidden layer, one product forward (h_l = a(W_l h_{l-1} + b_l)), one down the chain
(e_{l-1} = W_l^T D_l e_l) and, for the weight gradient, two more: the loss rows' dL/dW_l = sum_i d_i h_{l-1,i}^T
and the penalty's second derivative through the chain (its slopes D_l carry no gradient, a'' = 0 almost
everywhere; see :mod:`wgan.models.piecewise`). Autograd runs each of these once per batch (real, generated,
interpolates) and keeps a graph; here the three batches stand in one matrix of 3n rows:

- forward: one product per layer over [x; y; x_hat];
- chain: the loss's backward pass (output gradient -1/n on real rows, +1/n on generated ones) and the penalty's
  input gradient (output gradient 1 on interpolate rows) are the same product, e_{l-1} = W_l^T D_l e_l, so one
  product per layer serves both;
- weight gradient: dW_l = E_l^T [h_{l-1} on real and generated rows; the penalty's gradient with respect to
  e_{l-1} on interpolate rows], one product per layer, the second half written over activations no longer
  needed; plus one product per layer to carry the penalty's gradient down the chain.

Under bf16 autocast every product takes bf16 inputs (the weights cast once per call, not once per use) and the
gradients are returned in float32, as autograd would accumulate them. The bias gradients are summed over the bf16
rows (accumulated in float32, the sum rounded to bf16, as autograd's gradient of a bias cast by autocast is) and
only then converted: ``sum(dtype=float32)`` would first copy the rows to float32.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _activation_backward_(gradient: Tensor, output: Tensor, negative_slope: float) -> Tensor:
    """gradient * a'(pre-activation), with a' read off a's output (same sign as its input for these slopes),
    written over ``gradient``: always a product's fresh result here, so no new buffer is filled."""
    if negative_slope:
        return torch.ops.aten.leaky_relu_backward.grad_input(gradient, output, negative_slope, True,
                                                             grad_input=gradient)
    return torch.ops.aten.threshold_backward.grad_input(gradient, output, 0, grad_input=gradient)


def _activation(pre_activation: Tensor, negative_slope: float) -> Tensor:
    if negative_slope:
        return torch.nn.functional.leaky_relu_(pre_activation, negative_slope)
    return pre_activation.relu_()


class _PenalisedLoss(torch.autograd.Function):
    """loss(weights) with its gradient found in the forward pass; backward scales it by the output's gradient."""

    @staticmethod
    def forward(ctx, real: Tensor, fake: Tensor, e: Tensor, penalty_weight: float, one_sided: bool,
                negative_slope: float, dtype: torch.dtype, *parameters: Tensor):
        n = len(real)
        wide = torch.promote_types(dtype, torch.float32)  # where scalars, norms and gradients are kept
        weights = [p.detach().to(dtype) for p in parameters[0::2]]
        biases = [p.detach().to(dtype) for p in parameters[1::2]]
        hidden_weights, output_weight = weights[:-1], weights[-1]
        real, fake = real.flatten(1), fake.flatten(1)
        interpolates = torch.lerp(fake, real, e.view(-1, 1))
        activations = [torch.cat([real, fake, interpolates]).to(dtype)]
        for weight, bias in zip(hidden_weights, biases[:-1]):
            activations.append(_activation(torch.addmm(bias, activations[-1], weight.t()), negative_slope))
        scores = torch.addmm(biases[-1], activations[-1][: 2 * n], output_weight.t()).to(wide).flatten()
        estimate = scores[:n].mean() - scores[n:].mean()

        # d loss / d f: -1/n on real rows, +1/n on generated ones; d f / d f = 1 on interpolate rows (the chain)
        row_gradient = torch.ones(3 * n, 1, device=real.device, dtype=wide)
        row_gradient[:n], row_gradient[n: 2 * n] = -1 / n, 1 / n
        row_gradient = row_gradient.to(dtype)
        # chain[k]: the gradient at the pre-activation of the k-th hidden layer from the top; last, at the input
        chain = [row_gradient * output_weight]
        for weight, output in zip(reversed(hidden_weights), reversed(activations[1:])):
            chain[-1] = _activation_backward_(chain[-1], output, negative_slope)
            chain.append(chain[-1] @ weight)
        input_gradient = chain[-1][2 * n:].to(wide)

        norms = input_gradient.norm(dim=1)
        excess = norms - 1
        if one_sided:
            excess = excess.clamp(min=0)
        penalty = penalty_weight * excess.square().mean()
        loss = penalty - estimate

        # the penalty's gradient with respect to the chain, from its input end upwards
        down = input_gradient * (2 * penalty_weight / n * excess / norms.clamp(min=torch.finfo(norms.dtype).tiny)
                                 ).unsqueeze(1)
        down = down.to(dtype)
        gradients = []
        for layer, weight in enumerate(hidden_weights):
            # rows 2n: of activations[layer] are spent: they become the penalty's gradient at the chain there
            left = activations[layer]
            left[2 * n:] = down
            pre_gradient = chain[-2 - layer]  # gradient at hidden layer `layer`'s pre-activation, all rows
            gradients += [(pre_gradient.t() @ left).to(wide), pre_gradient[: 2 * n].sum(0).to(wide)]
            down = _activation_backward_(down @ weight.t(), activations[layer + 1][2 * n:], negative_slope)
        output_gradient = (row_gradient[: 2 * n].t() @ activations[-1][: 2 * n]).to(wide) + down.sum(0).to(wide)
        gradients += [output_gradient, row_gradient[: 2 * n].sum(0).to(wide)]
        ctx.save_for_backward(*gradients)
        ctx.mark_non_differentiable(estimate, penalty, norms)
        return loss, estimate, penalty, norms

    @staticmethod
    def backward(ctx, loss_gradient: Tensor, *unused: Tensor):
        return (None,) * 7 + tuple(gradient * loss_gradient for gradient in ctx.saved_tensors)


def penalised_critic_loss(linears: list[nn.Linear], negative_slope: float, real: Tensor, fake: Tensor, e: Tensor,
                          penalty_weight: float, one_sided: bool = False
                          ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The WGAN-GP (or, ``one_sided``, WGAN-LP) critic loss of the MLP critic made of ``linears`` (hidden layers
    followed by the output layer, activation of ``negative_slope`` between them), differentiable with respect
    to their weights and biases.

    Parameters
    ----------
    real, fake : Tensor
        (n, ...) samples; the interpolates are ``lerp(fake, real, e)``.
    e : Tensor
        (n, ...) interpolation weights, one per sample.

    Returns
    -------
    loss, estimate, penalty, norms
        The loss mean f(fake) - mean f(real) + penalty, the estimate mean f(real) - mean f(fake), the penalty
        and the (n,) gradient norms at the interpolates; all but the loss detached.
    """
    device = real.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else linears[0].weight.dtype
    parameters = [tensor for linear in linears for tensor in (linear.weight, linear.bias)]
    with torch.autocast(device, enabled=False):
        return _PenalisedLoss.apply(real, fake, e, penalty_weight, one_sided,
                                    negative_slope, dtype, *parameters)
