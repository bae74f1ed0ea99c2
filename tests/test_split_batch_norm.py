"""One critic pass over the real and the generated batch, each normalised by its own statistics, computes what two
separate passes compute: the scores, the weight gradients and the running statistics."""

import copy

import torch
from torch import nn

from wgan.config import make_config
from wgan.models.dcgan import DCGANCritic
from wgan.models.fast_convs import torch_layers_
from wgan.models.split_batch_norm import SplitBatchNorm2d, batches_apart
from wgan.objectives import WGAN


def _critic_and_batches() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    critic = DCGANCritic(1, 32, width=8, norm="batch").double()
    real, fake = torch.randn(6, 1, 32, 32, dtype=torch.float64), torch.randn(5, 1, 32, 32, dtype=torch.float64) + 1
    return critic, real, fake


def _passes(critic: nn.Module) -> list[int]:
    calls = [0]
    critic.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_one_pass_with_the_batches_apart_computes_the_two_passes_scores_gradients_and_running_statistics():
    critic, real, fake = _critic_and_batches()
    separate = copy.deepcopy(critic)
    calls = _passes(critic)
    objective = WGAN(make_config(algorithm="wgan"))
    scores = objective.critic_scores(critic, real, fake)
    (scores[1].mean() - scores[0].mean()).backward()
    expected = separate(real).float(), separate(fake).float()  # as critic_scores returns them
    (expected[1].mean() - expected[0].mean()).backward()
    assert calls == [1]
    for ours, theirs in zip(scores, expected, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)
    for ours, theirs in zip(critic.parameters(), separate.parameters(), strict=True):
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-9, atol=1e-12)
    for ours, theirs in zip(critic.buffers(), separate.buffers(), strict=True):  # running mean, variance, count
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)
    assert [layer.num_batches_tracked.item() for layer in critic.modules() if isinstance(layer, SplitBatchNorm2d)] \
        == [2, 2]


def test_outside_batches_apart_it_is_torchs_batch_norm_over_the_whole_batch():
    torch.manual_seed(0)
    ours, theirs = SplitBatchNorm2d(3), nn.BatchNorm2d(3)
    x = torch.randn(7, 3, 4, 4)
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
    with batches_apart(nn.Sequential(ours), [3, 4]):
        apart = ours(x)
    torch.testing.assert_close(apart[:3], nn.BatchNorm2d(3)(x[:3]), rtol=0, atol=0)
    assert ours.batch_sizes is None


def test_a_critic_with_torchs_batch_norm_still_gets_one_pass_per_batch():
    critic, real, fake = _critic_and_batches()
    plain = torch_layers_(copy.deepcopy(critic))
    calls = _passes(plain)
    scores = WGAN(make_config(algorithm="wgan")).critic_scores(plain, real, fake)
    assert calls == [2]
    torch.testing.assert_close(scores[0], critic(real).float(), rtol=1e-6, atol=1e-7)
