"""The input gradient of critics that are piecewise linear in their input (ReLU or leaky-ReLU networks).

For f(x) = w_L^T a(W_{L-1} ... a(W_1 x + b_1) ... + b_{L-1}) + b_L, where each W_l is any linear map (a dense
layer, a convolution) and a is ReLU or leaky ReLU,

    grad_x f = W_1^T D_1 W_2^T D_2 ... W_{L-1}^T D_{L-1} w_L,   D_l = diag(a'(pre-activation_l)).

Because a'' = 0 almost everywhere, the slopes D_l carry no gradient to the weights: the forward pass that finds
them runs without autograd, and only the product above is differentiated. A gradient penalty (WGAN-GP, Gulrajani
et al. 2017, Eq. 3) then gets the same weight gradient as double backprop without differentiating the backward
pass of the forward graph a second time.
"""

from __future__ import annotations

from torch import Tensor


def activation_slopes(pre_activation: Tensor, negative_slope: float) -> Tensor:
    """a'(pre_activation): 1 where it is positive, ``negative_slope`` elsewhere, in the dtype of
    ``pre_activation``.

    The dtype is the one the layers compute in (bf16 under autocast): a float32 mask would make every product of
    the backward chain float32, and each layer would cast it back (measured: 19% of a bf16 toy iteration).
    """
    slopes = (pre_activation > 0).to(pre_activation.dtype)
    if negative_slope:
        slopes.mul_(1 - negative_slope).add_(negative_slope)
    return slopes
