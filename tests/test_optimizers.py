import copy
import functools
import subprocess
import sys

import pytest
import torch

from wgan.config import make_config
from wgan.data import build_sampler
from wgan.metrics.image_scorer import image_scorer
from wgan.optimizers import Adam, RMSprop


def _parameters(seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator).requires_grad_() for shape in ((7, 5), (5,), (3, 2, 2, 2))]


def _steps(optimizer, parameters: list[torch.Tensor], count: int, seed: int, found_inf: float | None = None) -> None:
    generator = torch.Generator().manual_seed(seed)
    for _ in range(count):
        for parameter in parameters:
            parameter.grad = torch.randn(parameter.shape, generator=generator)
        if found_inf is not None:  # as torch.amp.GradScaler.step hands it to an optimiser that takes it
            optimizer.grad_scale, optimizer.found_inf = None, torch.tensor(found_inf)
        optimizer.step()
        optimizer.zero_grad()


def _equal_states(ours: dict, theirs: dict) -> bool:
    return ours["state"].keys() == theirs["state"].keys() and all(
        ours["state"][index].keys() == theirs["state"][index].keys()
        and all(torch.equal(ours["state"][index][key], theirs["state"][index][key]) for key in ours["state"][index])
        for index in ours["state"])


PAIRS = {
    "adam": (lambda parameters: Adam(parameters, lr=1e-3, betas=(0.5, 0.9)),
             lambda parameters: torch.optim.Adam(parameters, lr=1e-3, betas=(0.5, 0.9), fused=True)),
    "rmsprop": (lambda parameters: RMSprop(parameters, lr=5e-5),
                lambda parameters: torch.optim.RMSprop(parameters, lr=5e-5, foreach=True)),
}


@pytest.mark.parametrize("name", PAIRS)
def test_steps_and_state_are_torchs_bit_for_bit_and_checkpoints_load_either_way(name):
    ours_made, theirs_made = PAIRS[name]
    ours_parameters, theirs_parameters = _parameters(0), _parameters(0)
    ours, theirs = ours_made(ours_parameters), theirs_made(theirs_parameters)
    _steps(ours, ours_parameters, 5, seed=1)
    _steps(theirs, theirs_parameters, 5, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(ours_parameters, theirs_parameters))
    assert _equal_states(ours.state_dict(), theirs.state_dict())
    assert ours.state_dict()["param_groups"][0]["params"] == theirs.state_dict()["param_groups"][0]["params"]

    # each loads the other's checkpoint and goes on as it would have
    ours_again, theirs_again = ours_made(_parameters(2)), theirs_made(_parameters(2))
    ours_again.load_state_dict(copy.deepcopy(theirs.state_dict()))  # copies: a loaded state's tensors become the
    theirs_again.load_state_dict(copy.deepcopy(ours.state_dict()))  # optimiser's own, as a checkpoint's do
    for parameters, optimizer in ((ours_again.param_groups[0]["params"], ours_again),
                                  (theirs_again.param_groups[0]["params"], theirs_again)):
        with torch.no_grad():
            for parameter, value in zip(parameters, ours_parameters):
                parameter.copy_(value)
        _steps(optimizer, parameters, 3, seed=3)
    _steps(ours, ours_parameters, 3, seed=3)
    for optimizer in (ours_again, theirs_again):
        assert all(torch.equal(a, b) for a, b in zip(optimizer.param_groups[0]["params"], ours_parameters))
        assert _equal_states(optimizer.state_dict(), ours.state_dict())


def test_a_compiled_rmsprop_step_with_a_tensor_rate_is_one_graph_and_computes_torchs_compiled_step():
    # the rate passed as a number to the update was read back to the host: the graph broke before the update
    traced = RMSprop(_parameters(1), lr=5e-5, tensor_lr=True)
    for parameter in traced.param_groups[0]["params"]:
        parameter.grad = torch.ones_like(parameter)
    assert torch._dynamo.explain(traced.step)().break_reasons == []  # (explain takes a step)
    torch._dynamo.reset()
    ours_parameters, theirs_parameters = _parameters(0), _parameters(0)
    ours = RMSprop(ours_parameters, lr=5e-5, tensor_lr=True)
    theirs = torch.optim.RMSprop(theirs_parameters, lr=torch.tensor(5e-5), foreach=True)
    ours.step = torch.compile(ours.step)
    theirs_step = torch.compile(functools.partial(type(theirs).step.__wrapped__, theirs))  # the step compiled before
    generator = torch.Generator().manual_seed(5)
    for _ in range(4):
        for a, b in zip(ours_parameters, theirs_parameters):
            a.grad = torch.randn(a.shape, generator=generator)
            b.grad = a.grad.clone()
        ours.step()
        theirs_step()
    assert all(torch.equal(a, b) for a, b in zip(ours_parameters, theirs_parameters))
    numbers = theirs.state_dict() | {"param_groups": [theirs.state_dict()["param_groups"][0] | {"lr": 1e-5}]}
    ours.load_state_dict(numbers)  # a checkpoint of an uncompiled run: the rate a number
    assert isinstance(ours.param_groups[0]["lr"], torch.Tensor)
    assert ours.param_groups[0]["lr"].item() == pytest.approx(1e-5)


def test_a_step_whose_gradients_a_scaler_found_not_finite_changes_nothing_as_torchs_fused_adam():
    ours_parameters, theirs_parameters = _parameters(0), _parameters(0)
    ours, theirs = (Adam(ours_parameters, lr=1e-3, betas=(0.0, 0.9)),
                    torch.optim.Adam(theirs_parameters, lr=1e-3, betas=(0.0, 0.9), fused=True))
    for found_inf in (0.0, 1.0, 0.0):
        _steps(ours, ours_parameters, 1, seed=4, found_inf=found_inf)
        _steps(theirs, theirs_parameters, 1, seed=4, found_inf=found_inf)
    assert all(torch.equal(a, b) for a, b in zip(ours_parameters, theirs_parameters))
    assert _equal_states(ours.state_dict(), theirs.state_dict())
    assert ours.state_dict()["state"][0]["step"].item() == 2  # the skipped step is not counted


def test_a_state_for_other_parameters_is_refused():
    state = Adam(_parameters(0), lr=1e-3, betas=(0.5, 0.9)).state_dict()
    with pytest.raises(ValueError, match="other parameters"):
        Adam(_parameters(0)[:2], lr=1e-3, betas=(0.5, 0.9)).load_state_dict(state)


def test_a_training_run_does_not_import_torch_dynamo(tmp_path):
    # torch.optim's optimisers imported it as they were built: 2.5 s of CPU time in every process that trained;
    # then the DCGAN's initialisation on the meta device (the memory check sizes the models there) imported it.
    # The image scores' classifier is trained (torch.optim's Adam) and cached first: once per machine.
    config = make_config(data="digits", width=8, batch_size=16, eval_samples=100)
    image_scorer(config, build_sampler(config.data, "cpu", image_size=config.image_size))
    script = ("import sys\nfrom wgan.cli import main\n"
              "for algorithm in ('wgan-gp', 'wgan'):\n"
              "    assert main(['train', '--algorithm', algorithm, '--iterations', '2', '--eval-every', '2', "
              "'--width', '8', '--depth', '2', '--batch-size', '16', '--eval-samples', '200', '--out', sys.argv[1], "
              "'--quiet']) == 0\n"
              "assert main(['train', '--data', 'digits', '--model', 'dcgan', '--iterations', '2', '--eval-every', '2', "
              "'--width', '8', '--batch-size', '16', '--eval-samples', '100', '--out', sys.argv[1], '--quiet']) == 0\n"
              "print('imported torch._dynamo:', 'torch._dynamo' in sys.modules)")
    finished = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                              timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines()[-1] == "imported torch._dynamo: False"
