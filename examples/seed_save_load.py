"""Saving and loading, as in the seed tutorial (section 2, "Model Save & Load").

The tutorial's model is saved as two files, trained parameters and structure, and loading them
restores the model to use or to train further. onyx files hold tensors and plain containers,
never code (no pickle), so:

* ``model.onyx``: the ``state_dict`` (the trained parameters);
* ``checkpoint.onyx``: what resuming needs: the structure as plain numbers (the layer sizes the
  model class is built from), the parameters, the optimizer's state and the epoch.

``onyx.save(model)`` on a whole ``nn.Module`` (torch pickles it) raises a ``TypeError``.

Run from the repository root (files go to a temporary folder unless ``--out DIR`` is given)::

    python examples/seed_save_load.py
"""

from __future__ import annotations

import argparse
import os
import tempfile

import onyx
import onyx.nn as nn
import onyx.optim as optim


class Regressor(nn.Module):
    def __init__(self, in_features: int, hidden: int):
        super().__init__()
        self.config = {"in_features": in_features, "hidden": hidden}
        self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.body(x)


def train(model: nn.Module, optimizer: optim.Optimizer, x, y, steps: int) -> float:
    loss_fn = nn.MSELoss()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    return loss.item()


def main(out_dir: str | None = None) -> dict:
    onyx.manual_seed(0)
    x = onyx.randn(64, 3)
    y = (x * onyx.tensor([1.0, -2.0, 0.5])).sum(dim=1, keepdim=True)
    model = Regressor(3, 16)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    loss = train(model, optimizer, x, y, steps=50)
    print(f"trained 50 steps, loss {loss:.5f}")

    with tempfile.TemporaryDirectory() as tmp:
        folder = out_dir or tmp
        os.makedirs(folder, exist_ok=True)
        weights_path = os.path.join(folder, "model.onyx")
        ckpt_path = os.path.join(folder, "checkpoint.onyx")

        # 1. parameters only: load them into a freshly built model of the same structure
        onyx.save(model.state_dict(), weights_path)
        restored = Regressor(3, 16)
        restored.load_state_dict(onyx.load(weights_path))
        restored.eval()
        same = bool(onyx.allclose(restored(x), model(x)))
        print(f"{weights_path}: restored model gives the same outputs: {same}")

        # 2. a checkpoint with structure and optimizer state, to train further
        onyx.save({"config": model.config, "model": model.state_dict(),
                   "optim": optimizer.state_dict(), "epoch": 50}, ckpt_path)
        ckpt = onyx.load(ckpt_path, map_location="cpu")
        resumed = Regressor(**ckpt["config"])
        resumed.load_state_dict(ckpt["model"])
        resumed_opt = optim.Adam(resumed.parameters(), lr=0.01)
        resumed_opt.load_state_dict(ckpt["optim"])
        # the original, trained on, and the resumed copy take exactly the same steps
        loss_on = train(model, optimizer, x, y, steps=20)
        loss_resumed = train(resumed, resumed_opt, x, y, steps=20)
        print(f"{ckpt_path}: resumed from epoch {ckpt['epoch']}, 20 more steps: loss "
              f"{loss_resumed:.5f} (uninterrupted run: {loss_on:.5f})")

    try:
        onyx.save(model, os.devnull)
        whole_model = "saved"
    except TypeError as exc:
        whole_model = f"refused: {exc}"
    print("onyx.save(model):", whole_model)
    return {"same_outputs": same, "loss_resumed": loss_resumed, "loss_uninterrupted": loss_on,
            "whole_model": whole_model}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="folder to keep the files in")
    main(parser.parse_args().out)
