"""The assignment report's pipeline written the way the report describes it.

A faithful copy, kept as the baseline the benchmarks compare quantrack against:
load_digits -> StandardScaler on every row -> 80/20 split -> nn.Module with one
nn.Linear(64, 10) -> DataLoader(TensorDataset, batch_size=32, shuffle=True) ->
100 epochs of SGD lr 0.01 with CrossEntropyLoss, the test loss computed batch-wise
through a DataLoader, both losses sent with one ``mlflow.log_metric`` call each per
epoch -> best checkpoint (lowest test loss) saved and reloaded -> dynamic int8 ->
accuracy and one inference timing for each.

Run: ``python benchmarks/assignment_style.py --tracking-uri sqlite:///x.db --json out.json``.
The JSON holds the training time (loop + per-epoch logging), the accuracies and the
wall time of the script from its first line. Nothing here is tuned for speed on purpose.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402

import mlflow  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


class LogisticRegression(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return self.linear(x)


def train_loop(model, X_train, y_train, X_test, y_test, *, epochs=100, lr=0.01, batch_size=32,
               checkpoint="best_model.pth", log_metric=None):
    """The report's loop. Returns (seconds, best_epoch); ``model`` ends with the best weights."""
    log_metric = log_metric or mlflow.log_metric
    train_loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(TensorDataset(X_test, y_test), batch_size=batch_size, shuffle=False)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    best_loss, best_epoch = float("inf"), 0
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        train_loss = 0.0
        for inputs, labels in train_loader:
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            train_loss += loss.item()
        train_loss /= len(train_loader)
        model.eval()
        test_loss = 0.0
        with torch.no_grad():
            for inputs, labels in test_loader:
                outputs = model(inputs)
                test_loss += criterion(outputs, labels).item()
        test_loss /= len(test_loader)
        log_metric("train_loss", train_loss, step=epoch)
        log_metric("test_loss", test_loss, step=epoch)
        if test_loss < best_loss:
            best_loss, best_epoch = test_loss, epoch + 1
            torch.save(model.state_dict(), checkpoint)
    seconds = time.perf_counter() - start
    model.load_state_dict(torch.load(checkpoint, weights_only=True))
    return seconds, best_epoch


def evaluate(model, X_test, y_test):
    model.eval()
    with torch.no_grad():
        start = time.time()
        outputs = model(X_test)
        inference_time = time.time() - start
        probs = torch.softmax(outputs, dim=1)
        predicted = probs.argmax(dim=1)
        acc = (predicted == y_test).float().mean().item() * 100
    return acc, inference_time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracking-uri", default="sqlite:///mlflow.db")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's own choice, as the report ran)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_experiment("assignment")

    digits = load_digits()
    X = StandardScaler().fit_transform(digits.data)  # as in the report: scaled before the split
    X_train, X_test, y_train, y_test = train_test_split(X, digits.target, test_size=0.2, random_state=args.seed)
    X_train = torch.tensor(X_train, dtype=torch.float32)
    X_test = torch.tensor(X_test, dtype=torch.float32)
    y_train = torch.tensor(y_train, dtype=torch.long)
    y_test = torch.tensor(y_test, dtype=torch.long)

    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run():
        model = LogisticRegression(64, 10)
        mlflow.log_params({"epochs": args.epochs, "lr": 0.01, "batch_size": 32})
        train_s, best_epoch = train_loop(model, X_train, y_train, X_test, y_test, epochs=args.epochs,
                                         checkpoint=os.path.join(tmp, "best_model.pth"))
        acc, t_fp32 = evaluate(model, X_test, y_test)
        quantized = torch.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
        acc_q, t_int8 = evaluate(quantized, X_test, y_test)
        n_params = sum(p.numel() for p in model.parameters())
        mlflow.log_metrics({"accuracy": acc, "inference_time": t_fp32, "quantized_accuracy": acc_q,
                            "quantized_inference_time": t_int8, "params": n_params,
                            "model_size_bytes": n_params * 4, "quantized_model_size_bytes": 640 * 1 + 10 * 4})
    out = {"threads": torch.get_num_threads(), "train_s": train_s, "best_epoch": best_epoch, "accuracy": acc, "quantized_accuracy": acc_q,
           "wall_s": time.perf_counter() - _T0}
    print(json.dumps(out))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    main()
