"""Checkpoint and resume: a run saved and reloaded mid-way ends bit for bit where an
uninterrupted run does (weights, optimizer state, scheduler and random state)."""

import numpy as np

import onyx
import onyx.nn as nn
import onyx.optim as optim

RNG = np.random.default_rng(0)
X = RNG.standard_normal((64, 6)).astype(np.float32)
Y = RNG.integers(0, 3, 64)


def _build(seed=0):
    onyx.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    opt = optim.AdamW(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    return model, opt, sched


def _step(model, opt, sched, i):
    batch = slice((i * 16) % 64, (i * 16) % 64 + 16)
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(onyx.tensor(X[batch])), onyx.tensor(Y[batch]))
    loss.backward()
    opt.step()
    sched.step()


def test_resume_is_bit_for_bit(tmp_path):
    model, opt, sched = _build()
    for i in range(10):
        _step(model, opt, sched, i)
    expected = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    model, opt, sched = _build()
    for i in range(4):
        _step(model, opt, sched, i)
    path = tmp_path / "ckpt.onyx"
    onyx.save({"model": model.state_dict(), "optim": opt.state_dict(),
               "sched": sched.state_dict(), "rng": onyx.get_rng_state(), "step": 4}, path)
    del model, opt, sched

    model, opt, sched = _build(seed=123)  # different init and random state: all must come back
    ckpt = onyx.load(path)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optim"])
    sched.load_state_dict(ckpt["sched"])
    onyx.set_rng_state(ckpt["rng"])
    for i in range(ckpt["step"], 10):
        _step(model, opt, sched, i)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), expected[k], err_msg=k)
