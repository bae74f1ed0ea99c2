"""Run by torchrun in tests/test_distributed.py: train each configuration of a JSON file through the Python API on
every rank, then save every rank's parameters and the number of its critic losses computed in one pass
(wgan.models.penalised_loss); rank 0 writes them all, so the test can compare the ranks.

    torchrun --standalone --nproc_per_node 2 tests/scripts/train_on_every_rank.py CONFIGS.json OUT.pt
"""

import json
import sys

import torch
import torch.distributed as dist

import wgan
from wgan import distributed
from wgan.models import penalised_loss

one_pass_losses = 0


def counted(*args, **kwargs):
    global one_pass_losses
    one_pass_losses += 1
    return one_pass(*args, **kwargs)


one_pass, penalised_loss.penalised_critic_loss = penalised_loss.penalised_critic_loss, counted
dist.init_process_group("gloo")  # joined here, so wgan.train leaves it open for the gathering below
settings_list = json.loads(open(sys.argv[1]).read())
parameters_by_config, one_pass_losses_by_config = [], []
for settings in settings_list:
    one_pass_losses = 0
    run = wgan.train(write=False, progress=False, **settings)
    mine = torch.cat([p.detach().flatten() for module in (run.generator, run.critic) for p in module.parameters()])
    everyone = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(everyone, mine)
    parameters_by_config.append(everyone)
    counts = [None] * dist.get_world_size()
    dist.all_gather_object(counts, one_pass_losses)
    one_pass_losses_by_config.append(counts)
if dist.get_rank() == 0:
    torch.save({"weights": parameters_by_config, "one_pass_losses": one_pass_losses_by_config}, sys.argv[2])
dist.destroy_process_group()
distributed.exit_process(0)  # not through the interpreter's teardown, where gloo may abort a finished rank
