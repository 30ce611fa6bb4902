"""Compiled training steps: forward, backward and optimizer update traced into one graph."""

import numpy as np
import pytest

import onyx

nn = onyx.nn


def _data(n=5, batch=8):
    rng = np.random.default_rng(0)
    xs = [onyx.tensor(rng.standard_normal((batch, 6)).astype(np.float32)) for _ in range(n)]
    ys = [onyx.tensor(np.argmax(x.numpy()[:, :3], axis=1)) for x in xs]  # learnable
    return xs, ys


OPTIMIZERS = {
    "sgd_momentum": lambda ps: onyx.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "adam": lambda ps: onyx.optim.Adam(ps, lr=1e-2),
    "adamw": lambda ps: onyx.optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
}


def _run(opt_name: str, compiled: bool, steps: int = 50):
    onyx.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = OPTIMIZERS[opt_name](model.parameters())
    loss_fn = nn.CrossEntropyLoss()

    def train_step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    step = onyx.compile(train_step) if compiled else train_step
    xs, ys = _data()
    losses = [float(step(xs[i % 5], ys[i % 5]).detach()) for i in range(steps)]
    return losses, [p.detach().numpy().copy() for p in model.parameters()], step


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
def test_fifty_compiled_steps_equal_eager(opt_name):
    eager_losses, eager_params, _ = _run(opt_name, compiled=False)
    losses, params, step = _run(opt_name, compiled=True)
    np.testing.assert_allclose(losses, eager_losses, rtol=0, atol=1e-5)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    assert step.num_graphs == 1 and step.num_traces == 2  # warm-up, then the steady state
    assert eager_losses[-1] < eager_losses[0]


def test_learning_rate_change_needs_no_retrace():
    onyx.manual_seed(0)
    model = nn.Linear(6, 3)
    opt = onyx.optim.SGD(model.parameters(), lr=0.1)
    sched = onyx.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loss_fn = nn.CrossEntropyLoss()

    @onyx.compile
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    xs, ys = _data(n=1)
    step(xs[0], ys[0])
    step(xs[0], ys[0])
    before = model.weight.detach().numpy().copy()
    sched.step()
    step(xs[0], ys[0])
    grad = model.weight.grad.numpy()
    np.testing.assert_allclose(model.weight.detach().numpy(), before - 0.05 * grad, atol=1e-6)
    assert step.num_traces == 2


def _bn_run(compiled: bool, dropout: float):
    onyx.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(dropout),
                          nn.Linear(16, 3))
    opt = onyx.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()

    def train_step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    step = onyx.compile(train_step) if compiled else train_step
    xs, ys = _data(n=4, batch=32)
    losses = [float(step(xs[i % 4], ys[i % 4]).detach()) for i in range(40)]
    return model, losses, step


def test_batchnorm_running_stats_are_written_back_like_eager():
    eager, eager_losses, _ = _bn_run(False, 0.0)
    model, losses, step = _bn_run(True, 0.0)
    np.testing.assert_allclose(losses, eager_losses, atol=1e-5)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(model[1], name).numpy(),
                                   getattr(eager[1], name).numpy(), atol=1e-5)
    assert int(model[1].num_batches_tracked.item()) == 40 and step.num_graphs == 1


def test_dropout_model_trains_with_fresh_masks():
    model, losses, step = _bn_run(True, 0.3)
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    assert step.num_graphs == 1
    graph = next(iter(step._entries.values())).traced.model.graph
    assert "RandomUniformLike" in [n.op_type for n in graph]


def test_gradient_accumulated_outside_the_trace_is_an_error():
    model = nn.Linear(3, 1)

    def step(x):
        loss = model(x).sum()
        loss.backward()   # no zero_grad: the second call adds to an existing .grad
        return loss
    fast = onyx.compile(step)
    fast(onyx.ones(2, 3))
    with pytest.raises(onyx.OnyxError, match="zero_grad"):
        fast(onyx.ones(2, 3))


@pytest.mark.parametrize("dynamic", [None, True])
def test_training_step_with_changing_batch_sizes_matches_eager(dynamic):
    def run(compiled):
        onyx.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
        opt = onyx.optim.Adam(model.parameters(), lr=1e-2)
        loss_fn = nn.CrossEntropyLoss()

        def train_step(x, y):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss
        step = onyx.compile(train_step, dynamic=dynamic) if compiled else train_step
        rng = np.random.default_rng(0)
        losses = []
        for n in (8, 8, 8, 5, 7, 9, 3):
            x = onyx.tensor(rng.standard_normal((n, 6)).astype(np.float32))
            losses.append(float(step(x, onyx.tensor(rng.integers(0, 3, n))).detach()))
        return losses, [p.detach().numpy() for p in model.parameters()], step
    eager_losses, eager_params, _ = run(False)
    losses, params, step = run(True)
    np.testing.assert_allclose(losses, eager_losses, atol=1e-5)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # dynamic=None: batch 8, then one dynamic graph for 5, 7, 9, 3; True: one from the start
    assert step.num_graphs == (2 if dynamic is None else 1)


def test_changed_momentum_is_a_guard_and_explained():
    model = nn.Linear(6, 3)
    opt = onyx.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    loss_fn = nn.CrossEntropyLoss()

    def train_step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    step = onyx.compile(train_step)
    xs, ys = _data(n=1)
    for _ in range(3):
        step(xs[0], ys[0])
    opt.param_groups[0]["momentum"] = 0.8
    step(xs[0], ys[0])
    assert step.num_graphs == 2
    assert "optimizer 0 group 0 hyperparameters" in step.explain().split("retrace")[-1]


def test_verify_a_training_graph():
    onyx.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    opt = onyx.optim.AdamW(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()

    def train_step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    step = onyx.compile(train_step, verify=True)
    xs, ys = _data(n=1)
    for _ in range(3):
        step(xs[0], ys[0])
    assert step.num_graphs == 1
