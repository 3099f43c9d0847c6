"""Calibration of predicted class probabilities: does a 0.8 mean right 80% of the time?

Accuracy and loss say how often and how confidently a model is right on average; they do
not say whether its confidence can be taken at face value. Guo et al. (2017, "On
Calibration of Modern Neural Networks") measure that with the expected calibration error
(ECE) over equal-width confidence bins, and draw it as a reliability diagram; Lakshminarayanan
et al. (2017) show that averaging the probabilities of a few independently seeded networks
(a deep ensemble) lowers both the negative log-likelihood (NLL) and the ECE. These
functions are the measures, in plain NumPy so that a saved run can be re-scored anywhere.

Probabilities are (n, k) rows of a softmax, or a one-column sigmoid (n, 1) or (n,): a
binary model whose class 1 has probability p, class 0 1 - p. Labels are class codes
(n,) - 0/1 for a sigmoid - or one-hot rows (n, k).
"""

from __future__ import annotations

from typing import Any

import numpy as np

EPSILON = 1e-7  # keras.config.epsilon(): crossentropy clips probabilities to [eps, 1 - eps]
DEFAULT_BINS = 15  # Guo et al.'s choice


def _checked(probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) float64 probabilities and (n,) integer codes, or a ValueError saying what is wrong:
    a wrong shape or a NaN would otherwise surface as a silently wrong number."""
    p = np.asarray(probs, np.float64)
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"probs must be (n, classes) or (n,) probabilities, got shape {np.shape(probs)}")
    if not np.isfinite(p).all():
        raise ValueError("probs has non-finite values (NaN or inf); leave out the rows or models that produced them")
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot rows
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if y.dtype.kind == "f" and (not np.isfinite(y).all() or (y != np.round(y)).any()):
        raise ValueError("labels must be class codes (0, 1, ...) or one-hot rows")
    if len(y) != len(p):
        raise ValueError(f"probs has {len(p)} rows but labels has {len(y)}")
    codes = y.astype(np.int64)
    classes = max(p.shape[1], 2)
    if len(codes) and (codes.min() < 0 or codes.max() >= classes):
        raise ValueError(f"labels must be class codes 0..{classes - 1}, got {codes.min()}..{codes.max()}")
    return p, codes


def _confidence_and_correct(p: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The top-label confidence and whether the top label is right, per row."""
    if p.shape[1] == 1:  # a sigmoid: class 1 at p >= 0.5, as Keras's accuracy reads it
        positive = p[:, 0]
        predicted = (positive >= 0.5).astype(np.int64)
        return np.maximum(positive, 1.0 - positive), predicted == codes
    return p.max(axis=1), p.argmax(axis=1) == codes


def _bin_index(confidence: np.ndarray, bins: int) -> np.ndarray:
    """Bin m holds confidences in ((m - 1) / bins, m / bins] (Guo et al.), a confidence of 0 bin 0."""
    return np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)


def _check_bins(bins: int) -> int:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins!r}")
    return int(bins)


def reliability_bins(probs: Any, labels: Any, bins: int = DEFAULT_BINS) -> dict[str, np.ndarray]:
    """The reliability diagram's numbers: per equal-width confidence bin over [0, 1], how many
    rows fall in it (`count`), their mean top-label confidence (`confidence`) and how often
    the top label is right (`accuracy`); NaN for an empty bin. `edges` has bins + 1 values.
    A calibrated model has accuracy = confidence in every bin."""
    bins = _check_bins(bins)
    p, codes = _checked(probs, labels)
    confidence, correct = _confidence_and_correct(p, codes)
    index = _bin_index(confidence, bins)
    count = np.bincount(index, minlength=bins).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, weights=confidence, minlength=bins) / count
        accuracy = np.bincount(index, weights=correct.astype(np.float64), minlength=bins) / count
    return {
        "edges": np.linspace(0.0, 1.0, bins + 1),
        "count": count,
        "confidence": np.where(count > 0, mean_confidence, np.nan),
        "accuracy": np.where(count > 0, accuracy, np.nan),
    }


def expected_calibration_error(probs: Any, labels: Any, bins: int = DEFAULT_BINS) -> float:
    """Guo et al.'s ECE: sum over bins of (rows in the bin / rows) x |accuracy - mean confidence|,
    with the top-label confidence (max(p, 1 - p) for a sigmoid) in equal-width bins.
    0 for a calibrated model; NaN without rows."""
    table = reliability_bins(probs, labels, bins)
    count = table["count"]
    total = count.sum()
    if total == 0:
        return float("nan")
    used = count > 0
    gaps = np.abs(table["accuracy"][used] - table["confidence"][used])
    return float(np.sum(count[used] / total * gaps))


def negative_log_likelihood(probs: Any, labels: Any) -> float:
    """The mean negative log-probability of the true class: Keras's crossentropy without sample
    weights (softmax rows renormalized, probabilities clipped to [1e-7, 1 - 1e-7]), so a model
    that is certain and wrong costs -log(1e-7) = 16.1, not infinity. NaN without rows."""
    p, codes = _checked(probs, labels)
    if len(codes) == 0:
        return float("nan")
    if p.shape[1] == 1:
        positive = np.clip(p[:, 0], EPSILON, 1.0 - EPSILON)
        truth = np.where(codes == 1, positive, 1.0 - positive)
        return float(-np.mean(np.log(truth)))
    p = p / p.sum(axis=1, keepdims=True)
    truth = np.clip(p[np.arange(len(codes)), codes], EPSILON, 1.0 - EPSILON)
    return float(-np.mean(np.log(truth)))


__all__ = ["DEFAULT_BINS", "expected_calibration_error", "negative_log_likelihood", "reliability_bins"]


TEMPERATURE_RANGE = (0.05, 20.0)  # wide enough for any ensemble measured (bench/RESULTS.md)


def with_temperature(probs: Any, temperature: float) -> np.ndarray:
    """The probabilities with their logits divided by `temperature` (Guo et al.'s temperature
    scaling): > 1 softens, < 1 sharpens, the top class never changes. For a softmax the logits
    are log p (a softmax of log p / T); for a one-column sigmoid, log(p / (1 - p))."""
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    p = np.clip(np.asarray(probs, np.float64), EPSILON, 1.0 - EPSILON)
    if p.ndim == 1 or p.shape[-1] == 1:
        scaled = 1.0 / (1.0 + np.exp(-np.log(p / (1.0 - p)) / temperature))
        return scaled
    logits = np.log(p) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


def fit_temperature(probs: Any, labels: Any) -> float:
    """The temperature that minimises the negative log-likelihood of `labels` (held-out rows,
    never the ones it will be judged on): the remedy for an ensemble that averaging made less
    confident than it is accurate (Rahaman & Thiery 2021: calibrate after pooling)."""
    from scipy.optimize import minimize_scalar

    p, codes = _checked(probs, labels)
    if len(codes) == 0:
        raise ValueError("fit_temperature needs at least one row")
    low, high = np.log(TEMPERATURE_RANGE)
    found = minimize_scalar(
        lambda log_t: negative_log_likelihood(with_temperature(p, float(np.exp(log_t))), codes),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(found.x))
