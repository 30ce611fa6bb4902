"""The seed tutorial's linear regression (section 4): learn y = w1*x1 + w2*x2 + b with a custom
``Dataset``, a ``DataLoader``, ``nn.Linear(2, 1)``, ``MSELoss`` and Adam.

What changes from the tutorial's code, as a PyTorch user would fix it:

* its three samples ``[[1, 2], [2, 3], [3, 4]]`` have x2 = x1 + 1, so no single (w1, w2, b)
  fits them; here 1000 points with independent features come from known weights plus a little
  noise, so the learned weights can be checked;
* the DataLoader already returns tensors: no ``from_numpy`` on its batches;
* features are float32 from the start (not ints that need ``.float()``), and they are already
  ``(batch, 2)``: the tutorial's ``unsqueeze`` on the inputs would make them ``(batch, 1, 2)``;
* labels come out as ``(batch,)`` and become ``(batch, 1)`` with ``.unsqueeze(1)`` to match the
  model's output (otherwise MSELoss would broadcast to ``(batch, batch)``);
* 1000 epochs of one-sample steps would be slow for nothing: 30 epochs of batches of 32.

Run from the repository root::

    python examples/seed_linear_regression.py
"""

from __future__ import annotations

import numpy as np

import onyx
from onyx.utils.data import DataLoader, Dataset

TRUE_WEIGHTS = (2.0, -3.4)
TRUE_BIAS = 4.2


class MyDataset(Dataset):
    def __init__(self, data, label):
        self.data = data
        self.label = label

    def __len__(self):
        return len(self.label)

    def __getitem__(self, idx):
        return self.data[idx], self.label[idx]


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 2)).astype(np.float32)
    labels = features @ np.array(TRUE_WEIGHTS, np.float32) + np.float32(TRUE_BIAS)
    labels += rng.normal(scale=0.01, size=n).astype(np.float32)
    return features, labels


def main(epochs: int = 30, n: int = 1000, seed: int = 0) -> dict:
    onyx.manual_seed(seed)
    dataset = MyDataset(*make_data(n, seed))
    dataloader = DataLoader(dataset, batch_size=32, shuffle=True)

    model = onyx.nn.Linear(2, 1)    # input dim is 2, output dim is 1
    loss_fn = onyx.nn.MSELoss()     # mean square error loss
    optimizer = onyx.optim.Adam(model.parameters(), lr=0.1)
    # Adam's steps stay about lr long until the gradient's sign flips: halve lr now and then
    # so the weights settle instead of jittering around the answer
    scheduler = onyx.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)

    for epoch in range(epochs):
        for inputs, labels in dataloader:
            labels = labels.unsqueeze(1)      # (batch,) -> (batch, 1), like the outputs
            outputs = model(inputs)           # forward pass
            loss = loss_fn(outputs, labels)   # compute the loss
            optimizer.zero_grad()             # clear gradients for this training step
            loss.backward()                   # backpropagation, compute gradients
            optimizer.step()                  # apply gradients
        scheduler.step()
        if epoch % 10 == 0 or epoch == epochs - 1:
            print(f"epoch {epoch:3d}  last batch loss {loss.item():.6f}")

    print("Learned weights:", list(model.parameters()))
    weights = model.weight.detach().numpy().ravel().tolist()
    bias = float(model.bias.item())
    print(f"w1 = {weights[0]:.4f} (true {TRUE_WEIGHTS[0]}), "
          f"w2 = {weights[1]:.4f} (true {TRUE_WEIGHTS[1]}), b = {bias:.4f} (true {TRUE_BIAS})")
    return {"weights": weights, "bias": bias, "loss": loss.item()}


if __name__ == "__main__":
    main()
