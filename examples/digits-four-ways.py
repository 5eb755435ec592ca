# %% [markdown]
# # A digits classifier end to end, four ways
#
# One task, four tools. We train the same small network, a multilayer perceptron
# with one hidden layer of 32 ReLU units, to classify scikit-learn's 8x8 digit
# images, once each in **NumPy**, **PyTorch**, **TensorFlow** and **Keras**. Every
# version uses the same data split, the same architecture, the same loss (softmax
# cross-entropy), the same optimiser (plain minibatch SGD, learning rate 0.1,
# batches of 32) and the same number of epochs. What differs is how much each tool
# does for you:
#
# | tool | you write | the tool does |
# | --- | --- | --- |
# | NumPy | forward pass, gradients, update | arrays |
# | PyTorch | forward pass, the loop | gradients (`autograd`), optimiser, batching |
# | TensorFlow | forward pass, update | gradients, graphs (`tf.function`) |
# | Keras | the layers | training loop, metrics, history |
#
# The notebook runs top to bottom in a fresh kernel on a laptop CPU, and its last
# cell prints how long that took. Nothing is downloaded.

# %% [markdown]
# ## Set-up
#
# Keras reads `KERAS_BACKEND` once, when it is first imported, so a notebook sets it
# before anything else (TensorFlow's logging level too).

# %%
import os

os.environ["KERAS_BACKEND"] = "tensorflow"  # before the first `import keras`
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"  # hide TensorFlow's C++ start-up notes

import time

notebook_start = time.perf_counter()

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import torch
from matplotlib.ticker import MaxNLocator
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

for module in (np, torch, tf, keras):
    print(f"{module.__name__:<10} {module.__version__}")

# %% [markdown]
# ## The data
#
# 1797 images of 8x8 pixels with values 0 to 16, flattened to 64 features and scaled
# to [0, 1]. A stratified, seeded split keeps a quarter of them for testing; every
# tool below gets exactly these arrays, trains on the training set only, and is
# scored once on the test set.

# %%
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
print(X_train.shape, X_test.shape, np.bincount(y_train))

num_features, num_hidden, num_classes = 64, 32, 10
lr, batch_size, num_epochs = 0.1, 32, 20
results = {}  # tool -> dict(loss=[...per epoch], accuracy=..., seconds=...)

# %% [markdown]
# ## 1. NumPy: everything by hand
#
# The forward pass is two matrix products with a ReLU in between. The backward pass
# is the chain rule written out: the gradient of the mean cross-entropy with respect
# to the logits is `(softmax - one_hot) / batch_size`, and it flows back through each
# layer. Weights start with He initialisation. Each epoch's loss is the mean over
# images: each batch's mean loss is weighted by its size, since the last batch of an
# epoch is smaller.

# %%
def softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)  # numerically stable
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


rng = np.random.default_rng(0)
W1 = rng.normal(0, np.sqrt(2 / num_features), (num_features, num_hidden))
b1 = np.zeros(num_hidden)
W2 = rng.normal(0, np.sqrt(2 / num_hidden), (num_hidden, num_classes))
b2 = np.zeros(num_classes)

# %%
start = time.perf_counter()
history = []
for epoch in range(num_epochs):
    order = rng.permutation(len(X_train))
    total = 0.0
    for i in range(0, len(order), batch_size):
        xb, yb = X_train[order[i : i + batch_size]], y_train[order[i : i + batch_size]]
        hidden = np.maximum(xb @ W1 + b1, 0)  # forward
        probs = softmax(hidden @ W2 + b2)
        total += -np.log(probs[np.arange(len(yb)), yb]).sum()
        d_logits = probs.copy()  # backward
        d_logits[np.arange(len(yb)), yb] -= 1
        d_logits /= len(yb)
        d_hidden = (d_logits @ W2.T) * (hidden > 0)
        W2 -= lr * hidden.T @ d_logits  # SGD update
        b2 -= lr * d_logits.sum(axis=0)
        W1 -= lr * xb.T @ d_hidden
        b1 -= lr * d_hidden.sum(axis=0)
    history.append(total / len(X_train))
seconds = time.perf_counter() - start

predictions = (np.maximum(X_test @ W1 + b1, 0) @ W2 + b2).argmax(axis=1)
accuracy = float((predictions == y_test).mean())
results["NumPy"] = dict(loss=history, accuracy=accuracy, seconds=seconds)
print(f"NumPy: final loss {history[-1]:.3f}, test accuracy {accuracy:.3f}")

# %% [markdown]
# ## 2. PyTorch: your loop, its autograd
#
# An `nn.Sequential` model, a `DataLoader` for shuffling and batching, and the
# classic loop: forward, loss, `zero_grad`, `backward`, `step`. The code is
# device-agnostic: it runs on a GPU when there is one.

# %%
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(num_features, num_hidden), nn.ReLU(), nn.Linear(num_hidden, num_classes)
).to(device)
for layer in (model[0], model[2]):
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    nn.init.zeros_(layer.bias)
loader = DataLoader(
    TensorDataset(torch.from_numpy(X_train), torch.from_numpy(y_train)),
    batch_size=batch_size,
    shuffle=True,
)
optimizer = torch.optim.SGD(model.parameters(), lr=lr)
loss_fn = nn.CrossEntropyLoss()
print(model)

# %%
start = time.perf_counter()
history = []
for epoch in range(num_epochs):
    model.train()
    total = 0.0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)  # weighted by the batch's size
    history.append(total / len(X_train))
seconds = time.perf_counter() - start

model.eval()
with torch.no_grad():
    logits = model(torch.from_numpy(X_test).to(device))
accuracy = (logits.argmax(dim=1).cpu().numpy() == y_test).mean()
results["PyTorch"] = dict(loss=history, accuracy=float(accuracy), seconds=seconds)
print(f"PyTorch: final loss {history[-1]:.3f}, test accuracy {accuracy:.3f}")

# %% [markdown]
# ## 3. TensorFlow: gradients for free
#
# The same model with `tf.Variable`s, again with He initialisation, drawn from a
# seeded `tf.random.Generator`. `tf.GradientTape` records the forward pass and
# returns the gradients, so the chain rule disappears from our code. Wrapping the
# step in `tf.function` traces it once into a graph, which TensorFlow then runs
# without the Python overhead. `tf.data` shuffles and batches; `drop_remainder=True`
# keeps every batch at 32 rows, because a short last batch has a new shape and
# would trace the step a second time. The data are reshuffled every epoch, so the
# few images left over in one epoch are used in the next.

# %%
rng_tf = tf.random.Generator.from_seed(0)


def he_normal(fan_in, fan_out):
    return tf.Variable(rng_tf.normal((fan_in, fan_out), stddev=(2 / fan_in) ** 0.5))


params = [
    he_normal(num_features, num_hidden),
    tf.Variable(tf.zeros(num_hidden)),
    he_normal(num_hidden, num_classes),
    tf.Variable(tf.zeros(num_classes)),
]


def forward(x):
    W1, b1, W2, b2 = params
    return tf.nn.relu(x @ W1 + b1) @ W2 + b2


@tf.function
def train_step(xb, yb):
    with tf.GradientTape() as tape:
        logits = forward(xb)
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yb, logits=logits)
        )
    for param, grad in zip(params, tape.gradient(loss, params)):
        param.assign_sub(lr * grad)
    return loss

# %%
dataset = (
    tf.data.Dataset.from_tensor_slices((X_train, y_train))
    .shuffle(len(X_train), seed=0)
    .batch(batch_size, drop_remainder=True)
)
start = time.perf_counter()
history = []
for epoch in range(num_epochs):
    losses = [float(train_step(xb, yb)) for xb, yb in dataset]
    history.append(float(np.mean(losses)))  # equal batches: the mean over images
seconds = time.perf_counter() - start

predictions = tf.argmax(forward(X_test), axis=1).numpy()
accuracy = float((predictions == y_test).mean())
results["TensorFlow"] = dict(loss=history, accuracy=accuracy, seconds=seconds)
print(f"TensorFlow: final loss {history[-1]:.3f}, test accuracy {accuracy:.3f}")
print("traces of train_step:", train_step.experimental_get_tracing_count())

# %% [markdown]
# ## 4. Keras: the loop is the library's
#
# Describe the layers, `compile` with an optimiser and a loss, and `fit` runs the
# epochs, shuffles, batches and keeps the history. Keras on the TensorFlow backend
# compiles the step with `tf.function` for us. We keep the optimiser plain SGD so the
# comparison stays fair.

# %%
keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input(shape=(num_features,)),
        keras.layers.Dense(
            num_hidden, activation="relu", kernel_initializer="he_normal"
        ),
        keras.layers.Dense(num_classes),
    ]
)
model.compile(
    optimizer=keras.optimizers.SGD(learning_rate=lr),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
model.summary()

# %%
start = time.perf_counter()
fit = model.fit(X_train, y_train, batch_size=batch_size, epochs=num_epochs, verbose=0)
seconds = time.perf_counter() - start

history = fit.history["loss"]
_, accuracy = model.evaluate(X_test, y_test, verbose=0)
results["Keras"] = dict(loss=history, accuracy=float(accuracy), seconds=seconds)
print(f"Keras: final loss {history[-1]:.3f}, test accuracy {accuracy:.3f}")

# %% [markdown]
# ## Side by side
#
# The four training curves on one plot. They are not identical: each tool draws its
# own initial weights and its own minibatch order. But they have the same shape and
# end in the same place, as they should for the same model, loss and optimiser.

# %% alt="Training loss per epoch for the NumPy, PyTorch, TensorFlow and Keras versions of the same digits classifier, log scale: four curves that fall steeply over the first epochs and level off together."
plt.rcParams.update(
    {
        "figure.dpi": 144,  # sharp on high-resolution screens
        "font.size": 12,
        # transparent, with grey text: legible in the site's light and dark themes
        "figure.facecolor": "none",
        "axes.facecolor": "none",
        "text.color": "gray",
        "axes.labelcolor": "gray",
        "axes.edgecolor": "gray",
        "xtick.color": "gray",
        "ytick.color": "gray",
    }
)
fig, ax = plt.subplots(figsize=(6.5, 4))
for tool, result in results.items():
    ax.plot(range(1, num_epochs + 1), result["loss"], marker="o", ms=4, label=tool)
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.set_xlabel("epoch")
ax.set_ylabel("mean training loss (log scale)")
ax.set_yscale("log")
ax.set_title("The same MLP on the digits, four tools")
ax.legend(frameon=False)
fig.tight_layout()
plt.show()

# %% [markdown]
# The test accuracies, and how long each training loop took on this machine. The
# times depend on the machine and on what else it is doing; read them as a rough
# picture of per-step overhead on a tiny model, not as a benchmark.

# %%
print(f"{'tool':<11} {'test accuracy':>13} {'final loss':>10} {'seconds':>8}")
for tool, result in results.items():
    print(
        f"{tool:<11} {result['accuracy']:>13.3f} {result['loss'][-1]:>10.3f}"
        f" {result['seconds']:>8.2f}"
    )

accuracies = [result["accuracy"] for result in results.values()]
assert min(accuracies) > 0.9, "every version learns the digits"
assert max(accuracies) - min(accuracies) < 0.05, "and they agree"
print(f"\nthe whole notebook: {time.perf_counter() - notebook_start:.0f} s")

# %% [markdown]
# ## What to take away
#
# - The **model** is the same in all four: two matrices, two bias vectors, a ReLU.
# - **NumPy** makes you derive and code the gradients; it is the best way to
#   understand backpropagation and the worst way to build anything bigger.
# - **PyTorch** and **TensorFlow** compute the gradients for you. PyTorch runs
#   eagerly and offers `torch.compile` when speed matters; TensorFlow's
#   `tf.function` turns Python into a graph.
# - **Keras** hides the loop altogether, and, since Keras 3, runs the same model code
#   on TensorFlow, PyTorch or JAX.
