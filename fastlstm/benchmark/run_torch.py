"""PyTorch baseline: the members trained one after another with nn.LSTM (cuDNN on a GPU).

    python -m fastlstm.benchmark.run_torch --workload W1 --members S [--json OUT]

Trains seeds 0..S-1 (for W3: each learning rate x each seed) in this process, one
member at a time: `nn.LSTM(batch_first=True)` + `nn.Linear` on the last step's
output, `nn.CrossEntropyLoss` on logits (= Keras's softmax + sparse categorical
crossentropy), `torch.optim.Adam(lr, eps=1e-7)`, float32. On CUDA when
`torch.cuda.is_available()` (cuDNN's LSTM), else on the CPU with one thread per
usable core. Initialised like Keras: glorot (xavier) uniform input kernels,
orthogonal recurrent kernels, forget-gate bias 1 (the second bias zero), glorot
uniform head. Shuffled every epoch; the partial last batch is trained on. Prints one
JSON object (see `worker.report`): wall time from the top of this script, import
time, the median steady epoch of the first member, every member's final train
accuracy (the running accuracy over the last epoch, like Keras's
`history["accuracy"][-1]`), peak RSS and, on a GPU, peak device memory.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

T0 = time.perf_counter()

import torch  # noqa: E402
from torch import nn  # noqa: E402

if TYPE_CHECKING or __package__:  # python -m fastlstm.benchmark.run_torch
    from fastlstm.benchmark.worker import parse_args, report, usable_cores
    from fastlstm.benchmark.workloads import data_digest, make_data
else:  # started by path, as `fastlstm bench` does: keeps jax out of this process
    from worker import parse_args, report, usable_cores
    from workloads import data_digest, make_data

IMPORT_S = time.perf_counter() - T0


class LSTMClassifier(nn.Module):
    def __init__(self, features: int, units: int, layers: int, classes: int):
        super().__init__()
        self.lstm = nn.LSTM(features, units, num_layers=layers, batch_first=True)
        self.head = nn.Linear(units, classes)
        for name, p in self.lstm.named_parameters():
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(p)  # Keras glorot_uniform on the (in, 4u) kernel: same fans
            elif name.startswith("weight_hh"):
                nn.init.orthogonal_(p)
            elif name.startswith("bias_ih"):
                nn.init.zeros_(p)
                p.data[units : 2 * units] = 1.0  # gates i, f, g, o: Keras's unit_forget_bias
            else:
                nn.init.zeros_(p)  # bias_hh: Keras has a single bias
        nn.init.xavier_uniform_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_member(x, y, w, lr: float, seed: int, device: torch.device) -> tuple[float, list[float]]:
    torch.manual_seed(seed)
    model = LSTMClassifier(w.features, w.units, w.layers, w.classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.Generator().manual_seed(seed)  # on the CPU: the same order on every device
    n = x.shape[0]
    epoch_s, accuracy = [], float("nan")
    for _ in range(w.epochs):
        sync(device)
        start = time.perf_counter()
        perm = torch.randperm(n, generator=order).to(device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for i in range(0, n, w.batch_size):
            idx = perm[i : i + w.batch_size]
            xb, yb = x[idx], y[idx]
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            correct += (logits.detach().argmax(1) == yb).sum()
        accuracy = correct.item() / n
        sync(device)
        epoch_s.append(time.perf_counter() - start)
    return accuracy, epoch_s


def main() -> None:
    args, w = parse_args(__doc__.splitlines()[0])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(usable_cores())
    else:
        torch.cuda.reset_peak_memory_stats(device)
    x_np, y_np = make_data(w)
    x, y = torch.from_numpy(x_np).to(device), torch.from_numpy(y_np).to(device)
    members = w.members(args.members)
    accuracies, first_epochs = [], None
    for lr, seed in members:
        acc, epoch_s = train_member(x, y, w, lr, seed, device)
        accuracies.append(acc)
        first_epochs = first_epochs or epoch_s
    cuda = device.type == "cuda"
    report(
        "torch",
        args,
        w,
        t0=T0,
        import_s=IMPORT_S,
        members=members,
        final_train_accuracy=accuracies,
        epoch_seconds=first_epochs,
        epoch_members=1,
        data_digest=data_digest(x_np, y_np),
        torch_threads=torch.get_num_threads(),
        device=str(device),
        device_platform="gpu" if cuda else "cpu",
        device_kind=torch.cuda.get_device_name(device) if cuda else "cpu",
        device_count=1,
        device_peak_bytes=int(torch.cuda.max_memory_allocated(device)) if cuda else None,
        cudnn=bool(cuda and torch.backends.cudnn.is_available() and torch.backends.cudnn.enabled),
    )


if __name__ == "__main__":
    main()
