"""Optimizers and schedulers: 20 steps side by side with torch, parameters equal within 1e-5."""

import numpy as np
import pytest
import torch

import onyx
import onyx.optim as optim
from onyx.optim import lr_scheduler

RNG = np.random.default_rng(0)
X = RNG.standard_normal((16, 5)).astype(np.float32)
Y = RNG.standard_normal((16, 3)).astype(np.float32)
W0 = RNG.standard_normal((5, 3)).astype(np.float32) * 0.5
B0 = RNG.standard_normal((3,)).astype(np.float32) * 0.1


def _loss(lib, w, b):
    x, y = lib.tensor(X), lib.tensor(Y)
    pred = (x @ w + b).tanh()
    return ((pred - y) ** 2).mean()


OPTIMIZERS = {
    "sgd": ("SGD", dict(lr=0.1)),
    "sgd_momentum_wd": ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-2)),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    "sgd_maximize": ("SGD", dict(lr=0.05, maximize=True)),
    "adam": ("Adam", dict(lr=0.01)),
    "adam_wd_amsgrad": ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    "adamw": ("AdamW", dict(lr=0.01)),
    "adamw_amsgrad": ("AdamW", dict(lr=0.02, weight_decay=0.05, amsgrad=True,
                                    betas=(0.8, 0.99))),
    "adagrad": ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01,
                                initial_accumulator_value=0.1)),
    "rmsprop": ("RMSprop", dict(lr=0.01)),
    "rmsprop_centered_momentum": ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True,
                                                  weight_decay=0.01)),
    "adadelta": ("Adadelta", dict(lr=1.0, weight_decay=0.01)),
}

SCHEDULERS = {
    "none": None,
    "step": lambda m, o: m.StepLR(o, step_size=5, gamma=0.5),
    "multistep": lambda m, o: m.MultiStepLR(o, milestones=[3, 7, 7, 12], gamma=0.3),
    "exponential": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=6, eta_min=1e-3),
    "lambda": lambda m, o: m.LambdaLR(o, lambda e: 1.0 / (1 + e)),
    "onecycle": lambda m, o: m.OneCycleLR(o, max_lr=0.05, total_steps=25),
    "onecycle_three_phase_linear": lambda m, o: m.OneCycleLR(
        o, max_lr=0.05, total_steps=25, three_phase=True, anneal_strategy="linear"),
    "plateau": lambda m, o: m.ReduceLROnPlateau(o, patience=1, factor=0.5),
}


def _train(lib, opt_mod, sched_mod, opt_name, kwargs, sched_name, steps=20):
    w = lib.tensor(W0.copy(), requires_grad=True)
    b = lib.tensor(B0.copy(), requires_grad=True)
    opt = getattr(opt_mod, opt_name)([{"params": [w]}, {"params": [b]}], **kwargs)
    make = SCHEDULERS[sched_name]
    sched = make(sched_mod, opt) if make else None
    lrs = []
    for _ in range(steps):
        opt.zero_grad()
        loss = _loss(lib, w, b)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step(loss.item()) if sched_name == "plateau" else sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return w.detach().numpy(), b.detach().numpy(), lrs


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_matches_torch(name):
    opt_name, kwargs = OPTIMIZERS[name]
    ow, ob, _ = _train(onyx, optim, lr_scheduler, opt_name, kwargs, "none")
    tw, tb, _ = _train(torch, torch.optim, torch.optim.lr_scheduler, opt_name, kwargs, "none")
    np.testing.assert_allclose(ow, tw, atol=1e-5, rtol=0)
    np.testing.assert_allclose(ob, tb, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", sorted(s for s in SCHEDULERS if s != "none"))
def test_scheduler_matches_torch(name):
    opt_name, kwargs = ("SGD", dict(lr=0.05, momentum=0.9)) if "onecycle" in name else \
        ("Adam", dict(lr=0.01))
    ow, ob, olrs = _train(onyx, optim, lr_scheduler, opt_name, kwargs, name)
    tw, tb, tlrs = _train(torch, torch.optim, torch.optim.lr_scheduler, opt_name, kwargs, name)
    np.testing.assert_allclose(olrs, tlrs, rtol=1e-12)
    np.testing.assert_allclose(ow, tw, atol=1e-5, rtol=0)
    np.testing.assert_allclose(ob, tb, atol=1e-5, rtol=0)


def test_optimizer_state_dict_round_trip_resumes_identically():
    def run(split: bool):
        w = onyx.tensor(W0.copy(), requires_grad=True)
        b = onyx.tensor(B0.copy(), requires_grad=True)
        opt = optim.Adam([w, b], lr=0.01)
        for i in range(10):
            if split and i == 5:
                state = opt.state_dict()
                opt = optim.Adam([w, b], lr=0.01)
                opt.load_state_dict(state)
            opt.zero_grad()
            _loss(onyx, w, b).backward()
            opt.step()
        return w.detach().numpy().copy()
    np.testing.assert_array_equal(run(False), run(True))


def test_bad_arguments_are_rejected_like_torch():
    w = onyx.tensor(W0.copy(), requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([w], lr=-1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(w, lr=0.1)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
