# %% [markdown]
# # The degradation study in full
#
# He et al. (*Deep Residual Learning for Image Recognition*, arXiv:1512.03385) found
# that deeper *plain* networks reach a higher **training** error than shallower ones:
# an optimisation difficulty, not overfitting. Residual networks, which add each
# block's input back to its output (y = F(x) + x), do not suffer from it.
#
# The site's optional ResNets page shows this in a single short run. This notebook
# repeats the experiment more carefully:
#
# - five depths, from 4 to 32 linear layers;
# - three seeds for every network, so we can see how much is luck;
# - training loss *and* held-out accuracy, to tell degradation from overfitting;
# - the full training curves of the deepest twins;
# - the gradients at initialisation, to check that they do not simply vanish.
#
# It needs only PyTorch and scikit-learn's digits, and runs on a CPU; the experiment
# cell prints how long it took.

# %% [markdown]
# ## Set-up and data
#
# A stratified, seeded split keeps a quarter of the 1797 digits for testing. The
# figures are drawn at 200 dpi, so they stay sharp on high-resolution screens, with a
# transparent background and mid-grey text, so they read on light and dark pages.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

plt.rcParams.update({
    "figure.dpi": 200, "font.size": 12,
    "figure.facecolor": "none", "axes.facecolor": "none", "savefig.transparent": True,
    "text.color": "grey", "axes.labelcolor": "grey", "axes.edgecolor": "grey",
    "xtick.color": "grey", "ytick.color": "grey", "legend.frameon": False,
})
device = "cuda" if torch.cuda.is_available() else "cpu"
print("PyTorch", torch.__version__, "on", device)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.25, stratify=y, random_state=0
)
X_train, X_test = (torch.tensor(a, dtype=torch.float32) for a in (X_train, X_test))
y_train, y_test = torch.tensor(y_train), torch.tensor(y_test)
print(tuple(X_train.shape), tuple(X_test.shape))

# %% [markdown]
# ## Plain and residual twins
#
# A block is two linear layers, each followed by batch normalisation, with a ReLU
# between them and one after. The residual block adds its input before the last
# ReLU; that shortcut is the only difference. Like the paper's networks, both kinds
# use He initialisation and batch normalisation, so neither the forward signal nor
# the gradient should vanish for the trivial reason of a bad scale.

# %%
class Block(nn.Module):
    def __init__(self, width, residual):
        super().__init__()
        self.residual = residual
        self.F = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Linear(width, width), nn.BatchNorm1d(width),
        )

    def forward(self, x):
        out = self.F(x)
        return torch.relu(out + x if self.residual else out)


def make_mlp(depth, residual, seed, width=64):
    """`depth` linear layers: one in, (depth - 2) in blocks of two, one out."""
    torch.manual_seed(seed)  # twins (same depth and seed) get the same weights
    blocks = [Block(width, residual) for _ in range((depth - 2) // 2)]
    model = nn.Sequential(
        nn.Linear(64, width), nn.ReLU(), *blocks, nn.Linear(width, 10)
    )
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return model.to(device)

# %% [markdown]
# ## Training, identical for every network
#
# Ten epochs of minibatch SGD with momentum 0.9 and learning rate 0.01, batches of 64.
# The minibatch order depends only on the seed, so twins see the same batches in the
# same order. The training loss of an epoch is the mean of its minibatch losses;
# with every minibatch of the same size, that is also the mean over its images.
#
# `drop_last=True` matters here. 1347 training images make 21 batches of 64 and a
# last one of 3. Batch normalisation computes its statistics from the batch, and
# over 3 samples they are so noisy that one such step can throw a deep network off
# course. Dropping the remainder is the usual remedy.

# %%
def train(model, seed, num_epochs=10, lr=0.01, batch_size=64):
    order = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        TensorDataset(X_train, y_train), batch_size=batch_size, shuffle=True,
        generator=order, drop_last=True,  # no tiny last batch: see below
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    for epoch in range(num_epochs):
        model.train()
        losses = []
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        history.append(sum(losses) / len(losses))
    return history


def test_accuracy(model):
    model.eval()
    with torch.no_grad():
        predictions = model(X_test.to(device)).argmax(dim=1).cpu()
    return (predictions == y_test).float().mean().item()

# %% [markdown]
# ## The experiment
#
# Thirty networks: five depths, two kinds, three seeds.

# %%
depths = [4, 8, 16, 24, 32]
seeds = [0, 1, 2]
kinds = ["plain", "residual"]
runs = {}  # (kind, depth, seed) -> dict(history=..., accuracy=...)

start = time.perf_counter()
for depth in depths:
    for seed in seeds:
        for kind in kinds:
            model = make_mlp(depth, residual=(kind == "residual"), seed=seed)
            history = train(model, seed)
            accuracy = test_accuracy(model)
            runs[kind, depth, seed] = dict(history=history, accuracy=accuracy)
    print(f"depth {depth:2d} done after {time.perf_counter() - start:5.1f} s")

# %% [markdown]
# ## Results
#
# The final training loss and the test accuracy, as mean and spread (minimum to
# maximum) over the three seeds.

# %%
def final_losses(kind, depth):
    return np.array([runs[kind, depth, seed]["history"][-1] for seed in seeds])


def accuracies(kind, depth):
    return np.array([runs[kind, depth, seed]["accuracy"] for seed in seeds])


print("depth | training loss: plain     residual  | test accuracy: plain  residual")
for depth in depths:
    cells = []
    for values in (final_losses("plain", depth), final_losses("residual", depth)):
        cells.append(f"{values.mean():.2f} ({values.min():.2f}-{values.max():.2f})")
    accs = [accuracies(kind, depth).mean() for kind in kinds]
    print(f"{depth:5d} | {cells[0]:>17} {cells[1]:>17} |", end="")
    print(f" {accs[0]:12.3f} {accs[1]:9.3f}")

# %% alt="Two panels against depth, 4 to 32 layers, one above the other. Top: the final training loss of the plain networks climbs with depth, to above 1 at 32 layers, while the residual networks stay near zero. Bottom: the test accuracy of the plain networks falls with depth, to about 0.5 at 32 layers, while the residual networks stay near 0.96. Each point is one seed; the lines join the means."
fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(6, 6.4), sharex=True)
for kind, marker in zip(kinds, ["o", "s"]):
    loss_means = [final_losses(kind, d).mean() for d in depths]
    acc_means = [accuracies(kind, d).mean() for d in depths]
    line, = ax_loss.plot(depths, loss_means, marker=marker, label=kind)
    ax_acc.plot(depths, acc_means, marker=marker, label=kind, color=line.get_color())
    for d in depths:
        ax_loss.scatter([d] * len(seeds), final_losses(kind, d), s=12,
                        color=line.get_color(), alpha=0.5)
        ax_acc.scatter([d] * len(seeds), accuracies(kind, d), s=12,
                       color=line.get_color(), alpha=0.5)
ax_loss.axhline(np.log(10), color="gray", linestyle="--", label="chance (ln 10)")
ax_loss.set(ylabel="training loss\nafter 10 epochs", title="Training loss")
ax_acc.set(xlabel="depth (linear layers)", ylabel="test accuracy",
           title="Held-out accuracy")
for ax in (ax_loss, ax_acc):
    ax.set_xticks(depths)
    ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Both panels move together: where the plain networks fit their *training* data
# worse, they also do worse on the test data. Overfitting would look the other way
# round, with a low training loss and a poor test accuracy.
#
# ## The training curves of the deepest twins
#
# Every epoch of the 32-layer networks, for each seed. The plain networks do learn,
# only far more slowly: the same ten epochs leave them well behind.

# %% alt="Training loss per epoch for the 32-layer networks, three seeds each, on a log scale, epochs 1 to 10. The residual curves fall fast and end near 0.05; the plain curves fall slowly and end above 1."
deepest = depths[-1]
fig, ax = plt.subplots(figsize=(6, 3.8))
epochs = range(1, len(runs["plain", deepest, 0]["history"]) + 1)
for kind, color in zip(kinds, ["C0", "C1"]):
    for seed in seeds:
        ax.plot(epochs, runs[kind, deepest, seed]["history"], color=color, alpha=0.8,
                label=kind if seed == 0 else None)
ax.set(xlabel="epoch", ylabel="mean training loss", yscale="log",
       title=f"{deepest}-layer twins, {len(seeds)} seeds")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Do the gradients vanish?
#
# One explanation that comes to mind is vanishing gradients. The paper rules it out
# for its networks, which use batch normalisation as ours do. Here is the check for
# ours: the gradient norm of every linear layer's weights, for one batch, at
# initialisation, in the 32-layer twins.

# %% alt="Gradient norm of each linear layer's weights at initialisation for the 32-layer plain and residual networks, log scale, layer 1 at the input to layer 32 at the output. Neither curve falls towards zero at the input end. The plain network's gradients grow steadily towards the input, from below 1 to about 100; the residual network's stay within a much narrower band."
def layer_gradient_norms(model):
    model.train()
    loss = nn.functional.cross_entropy(model(X_train[:256].to(device)),
                                       y_train[:256].to(device))
    model.zero_grad()
    loss.backward()
    return [m.weight.grad.norm().item() for m in model.modules()
            if isinstance(m, nn.Linear)]


grad_norms = {kind: layer_gradient_norms(make_mlp(deepest, kind == "residual", seed=0))
              for kind in kinds}
fig, ax = plt.subplots(figsize=(6, 3.6))
for kind, marker in zip(kinds, ["o", "s"]):
    ax.plot(range(1, deepest + 1), grad_norms[kind], marker=marker, ms=3, label=kind)
ax.set(xlabel="linear layer (1 = input side)", ylabel="weight gradient norm",
       yscale="log", title=f"Gradients at initialisation, {deepest} layers")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole layers
ax.legend()
fig.tight_layout()
plt.show()
plain_grads, residual_grads = (np.array(grad_norms[kind]) for kind in kinds)
growth = plain_grads[0] / plain_grads[-1]
print(f"plain network: gradient norm {plain_grads[0]:.3g} at the input layer, "
      f"{plain_grads[-1]:.3g} at the output layer: {growth:.0f} times larger, "
      f"10^{np.log10(growth):.1f}")
print(f"residual network: from {residual_grads.min():.3g} "
      f"to {residual_grads.max():.3g}")

# %% [markdown]
# The gradients do not vanish. In the plain network they do the opposite: they grow
# towards the input, by about two orders of magnitude over 32 layers, along a nearly
# straight line on the log scale, so exponentially in depth. That is a known property
# of deep plain networks with batch normalisation at initialisation (Yang et al.,
# *A Mean Field Theory of Batch Normalization*, ICLR 2019). In the residual network
# the shortcuts keep them within a much narrower band. Either way, the plain
# network's trouble is not that its first layers receive no signal.
#
# ## The claims, checked
#
# The assertions below are what this notebook claims; if a change in a library ever
# breaks one of them, the site's tests fail.

# %%
plain_loss = {d: final_losses("plain", d).mean() for d in depths}
residual_loss = {d: final_losses("residual", d).mean() for d in depths}

# Degradation: the deepest plain networks fit their training data worse ...
assert plain_loss[deepest] > 3 * plain_loss[depths[0]]
# ... and much worse than their residual twins, for every seed.
assert all(final_losses("plain", deepest) > final_losses("residual", deepest))
assert all(final_losses("plain", deepest) > 1)  # every seed, as the figures show
assert plain_loss[deepest] > 2 * residual_loss[deepest]
# Not overfitting: the plain networks are also worse on held-out data.
assert accuracies("plain", deepest).mean() < accuracies("residual", deepest).mean()
# Not vanishing gradients: towards the input they grow, by about two orders of
# magnitude (between 10^1.5 and 10^2.5) ...
assert 10**1.5 < plain_grads[0] / plain_grads[-1] < 10**2.5
# ... and the residual network's stay within a narrower band than the plain one's.
assert (residual_grads.max() / residual_grads.min()
        < plain_grads.max() / plain_grads.min())

print(f"{deepest} layers, mean over {len(seeds)} seeds:")
print(f"  training loss  plain {plain_loss[deepest]:.2f}, "
      f"residual {residual_loss[deepest]:.2f}")
print(f"  test accuracy  plain {accuracies('plain', deepest).mean():.3f}, "
      f"residual {accuracies('residual', deepest).mean():.3f}")

# %% [markdown]
# ## Summary
#
# - With identical layers, initialisation, data and training, the shortcut alone
#   decides whether a 32-layer MLP trains well in ten epochs.
# - The deep plain networks are worse on the training data itself, so the problem is
#   optimisation, not overfitting. Their gradients do not vanish either; if
#   anything, they grow towards the input.
# - This is a small, quick replica of the paper's CIFAR-10 experiment (its Fig. 6),
#   not a reproduction: in the paper the networks are convolutional, trained for
#   64,000 iterations, and the effect is measured over 20 to 110 layers.
