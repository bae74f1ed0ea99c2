"""Run by torchrun in tests/test_distributed.py: train each configuration of a JSON file through the Python API on
every rank, then save every rank's parameters (rank 0 writes them all, so the test can compare the ranks).

    torchrun --standalone --nproc_per_node 2 tests/scripts/train_on_every_rank.py CONFIGS.json OUT.pt
"""

import json
import sys

import torch
import torch.distributed as dist

import wgan

dist.init_process_group("gloo")  # joined here, so wgan.train leaves it open for the gathering below
settings_list = json.loads(open(sys.argv[1]).read())
parameters_by_config = []
for settings in settings_list:
    run = wgan.train(write=False, progress=False, **settings)
    mine = torch.cat([p.detach().flatten() for module in (run.generator, run.critic) for p in module.parameters()])
    everyone = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(everyone, mine)
    parameters_by_config.append(everyone)
if dist.get_rank() == 0:
    torch.save(parameters_by_config, sys.argv[2])
dist.destroy_process_group()
