"""The ReLU and leaky ReLU of wgan.models.activations: torch's functions and gradients, eager and compiled, and
under torch.compile a backward pass that keeps the output, not a boolean mask."""

import copy

import pytest
import torch
from torch import nn

from wgan.models.activations import LeakyReLU, ReLU, activation_backward
from wgan.models.dcgan import DCGANCritic


@pytest.mark.parametrize("ours, theirs", [(ReLU(), nn.ReLU()), (LeakyReLU(0.2), nn.LeakyReLU(0.2))])
def test_the_backward_operator_gives_torchs_input_gradient_from_the_output_alone(ours, theirs):
    x = torch.tensor([-2.0, -0.5, 0.0, 0.0, 0.25, 3.0], requires_grad=True)  # zeros: the kink, where torch's
    gradient = torch.tensor([1.0, -2.0, 3.0, -4.0, 5.0, -6.0])                # gradient takes the slope s
    theirs(x).backward(gradient)
    output = ours(x.detach())
    assert torch.equal(output, theirs(x.detach()))
    assert torch.equal(activation_backward(gradient, output, ours.negative_slope if isinstance(ours, nn.LeakyReLU)
                                           else 0.0), x.grad)


def test_a_leaky_relu_with_a_negative_slope_is_refused():
    with pytest.raises(ValueError, match="negative_slope >= 0"):
        LeakyReLU(-0.1)


def test_the_compiled_batch_norm_critic_keeps_no_boolean_mask_and_computes_the_eager_gradients():
    """Compiled with torch's nn.LeakyReLU, this critic's graph saves a boolean mask of an activation (which
    Inductor stores about 30 times slower than it computes the activation on the CPU), in float32 as in bf16."""
    torch.manual_seed(0)
    critic = DCGANCritic(1, 32, 8, "batch").to(memory_format=torch.channels_last)
    twin = copy.deepcopy(critic)
    x = torch.randn(8, 1, 32, 32)

    def scores_and_gradients(module: nn.Module, parameters: nn.Module) -> tuple[torch.Tensor, list[torch.Tensor]]:
        scores = module(x)
        scores.mean().backward()
        return scores.detach(), [parameter.grad for parameter in parameters.parameters()]

    eager_scores, eager_gradients = scores_and_gradients(critic, critic)
    saved: list[torch.dtype] = []
    with torch.autograd.graph.saved_tensors_hooks(lambda tensor: saved.append(tensor.dtype) or tensor,
                                                  lambda tensor: tensor):
        compiled_scores, compiled_gradients = scores_and_gradients(torch.compile(twin, dynamic=False), twin)
    assert saved and torch.bool not in saved
    assert torch.allclose(compiled_scores, eager_scores, rtol=1e-4, atol=1e-6)
    for compiled, eager in zip(compiled_gradients, eager_gradients, strict=True):
        assert torch.allclose(compiled, eager, rtol=1e-4, atol=1e-5 * eager.abs().max().item())
