"""Convolutions that are one matrix product: the DCGAN's first and last layers, computed as such.

Two layers of the DCGAN (Radford et al. 2016; the official WGAN code's ``DCGAN_G`` and ``DCGAN_D``) are dense
maps written as convolutions:

* the generator's first layer, ConvTranspose(latent, C, k, 1, 0) on the noise seen as a 1x1 map:
  out[n, c, i, j] = sum_l z[n, l] W[l, c, i, j], i.e. out = z W with W viewed as (latent, C k k);
* the critic's last layer, Conv(C, 1, k, 1, 0) on a k x k map: f(x)[n] = sum_{c,i,j} W[0, c, i, j] x[n, c, i, j],
  i.e. f = x W^T with x and W flattened.

oneDNN runs these shapes through convolution kernels well below its matrix-product speed: as matrix products they
make a DCGAN 32 WGAN iteration 1.05x faster in bf16 and 1.02x in float32 (``benchmarks/throughput.py --against
torch-layers``, 2-core Intel Xeon with AMX; docs/BENCHMARKS.md). The classes here keep
torch's layer, its parameter and its state-dict entry, and compute the same function with ``torch.matmul``.
Both flatten in (height, width, channel) order, in which channels-last tensors are already laid out, so that
neither the activations nor the weights are copied. :func:`torch_layers_` turns them back into torch's own
layers, as the published code builds them.
"""

from __future__ import annotations

from torch import Tensor, nn


class OnePixelConvTranspose2d(nn.ConvTranspose2d):
    """ConvTranspose2d(in_channels, out_channels, kernel_size, stride 1, padding 0, no bias) for 1x1 inputs:
    (n, in_channels, 1, 1) -> (n, out_channels, kernel_size, kernel_size), as one matrix product (channels-last
    output)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=False)

    def forward(self, z: Tensor) -> Tensor:
        height, width = self.kernel_size
        weight = self.weight.permute(0, 2, 3, 1).reshape(self.in_channels, -1)  # (in, height * width * out)
        out = z.reshape(len(z), self.in_channels) @ weight
        return out.view(len(z), height, width, self.out_channels).permute(0, 3, 1, 2)


class WholeInputConv2d(nn.Conv2d):
    """Conv2d(in_channels, out_channels, kernel_size, stride 1, padding 0, no bias) for inputs of the kernel's
    size: (n, in_channels, kernel_size, kernel_size) -> (n, out_channels, 1, 1), as one matrix product."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != self.kernel_size:
            raise ValueError(f"{type(self).__name__} takes inputs of its kernel's size {tuple(self.kernel_size)}, "
                             f"got {tuple(x.shape[-2:])}")
        inputs = x.permute(0, 2, 3, 1).reshape(len(x), -1)
        weight = self.weight.permute(0, 2, 3, 1).reshape(self.out_channels, -1)
        return (inputs @ weight.T).view(len(x), self.out_channels, 1, 1)


_TORCH_LAYERS = {OnePixelConvTranspose2d: nn.ConvTranspose2d, WholeInputConv2d: nn.Conv2d}


def torch_layers_(module: nn.Module) -> nn.Module:
    """Turn each layer of this module inside ``module`` into torch's own layer, in place (the same parameters
    and function, computed by torch's convolution, as the published code builds it). Returns ``module``."""
    for layer in module.modules():
        if type(layer) in _TORCH_LAYERS:
            layer.__class__ = _TORCH_LAYERS[type(layer)]  # the subclasses add no state: only the forward changes
    return module
