"""The fused LSTM layer (fused_lstm.cc) as a `jax.custom_vjp` function: one XLA FFI
custom call for the forward pass over the whole sequence, one for the backward pass.

`fused_lstm_layer` has the signature and semantics of
`fastlstm.engine._recurrence.lstm_layer` for the case it covers (no mask, no dropout,
float32, go_backwards=False, zero initial state); anything else raises
NotImplementedError. Under `vmap` (members) the calls see the members as a leading
axis (vmap_method="broadcast_all") and loop over them in C++, on `THREADS` threads.

`available()` is False when the shared library is not built (run build.sh) or numpy's
OpenBLAS is not found: a caller would fall back to the scan.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

LIB_PATH = Path(__file__).resolve().parent / "build" / "libfused_lstm.so"
THREADS = int(os.environ.get("FUSED_LSTM_THREADS", "1"))  # per call; 1 when members are sharded over devices
_state: dict[str, object] = {}


def _blas_path() -> str | None:
    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    found = sorted(glob.glob(str(libs / "libscipy_openblas64_*.so*")))
    return found[0] if found else None


def available() -> bool:
    """Load and register the handlers once; False (fall back to the scan) if anything is missing."""
    if "ok" in _state:
        return bool(_state["ok"])
    ok = False
    blas = _blas_path()
    if LIB_PATH.exists() and blas:
        lib = ctypes.cdll.LoadLibrary(str(LIB_PATH))
        if lib.fused_lstm_init(blas.encode()) == 0:
            jax.ffi.register_ffi_target("fused_lstm_fwd", jax.ffi.pycapsule(lib.FusedLstmFwd), platform="cpu")
            jax.ffi.register_ffi_target("fused_lstm_bwd", jax.ffi.pycapsule(lib.FusedLstmBwd), platform="cpu")
            _state["lib"] = lib
            ok = True
    _state["ok"] = ok
    return ok


def _fwd_call(x_t, w, r, b, sequences: bool):
    if not available():
        raise RuntimeError(f"fused LSTM not available: build {LIB_PATH} with bench/ffi_step/build.sh")
    t, batch, features = x_t.shape
    units = r.shape[0]
    f32 = jnp.float32
    out = jax.ShapeDtypeStruct((t, batch, units) if sequences else (batch, units), f32)
    xh = jax.ShapeDtypeStruct((t, batch, features + units), f32)
    fac = jax.ShapeDtypeStruct((t, batch, 6 * units), f32)
    call = jax.ffi.ffi_call("fused_lstm_fwd", (out, xh, fac), vmap_method="broadcast_all")
    return call(x_t, w, r, b, sequences=np.int64(sequences), threads=np.int64(THREADS))


def _bwd_call(w, r, xh, fac, d_out, x_shape, sequences: bool, input_grad: bool):
    f32 = jnp.float32
    shapes = (
        jax.ShapeDtypeStruct(x_shape, f32),
        jax.ShapeDtypeStruct(w.shape, f32),
        jax.ShapeDtypeStruct(r.shape, f32),
        jax.ShapeDtypeStruct((r.shape[1],), f32),
    )
    call = jax.ffi.ffi_call("fused_lstm_bwd", shapes, vmap_method="broadcast_all")
    return call(
        w,
        r,
        xh,
        fac,
        d_out,
        sequences=np.int64(sequences),
        input_grad=np.int64(input_grad),
        threads=np.int64(THREADS),
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _layer(x_t, w, r, b, need_input_grad, sequences):
    return _fwd_call(x_t, w, r, b, sequences)[0]


def _layer_fwd(x_t, w, r, b, need_input_grad, sequences):
    out, xh, fac = _fwd_call(x_t, w, r, b, sequences)
    return out, (xh, fac, w, r, x_t.shape)


def _layer_bwd(need_input_grad, sequences, residuals, d_out):
    xh, fac, w, r, x_shape = residuals
    dx, dw, dr, db = _bwd_call(w, r, xh, fac, d_out, x_shape, sequences, need_input_grad)
    return dx, dw, dr, db


_layer.defvjp(_layer_fwd, _layer_bwd)


def fused_lstm_layer(
    x_t: jax.Array,
    kernel: jax.Array,
    recurrent_kernel: jax.Array,
    bias: jax.Array,
    mask_t: jax.Array | None = None,
    need_input_grad: bool = True,
    compute_dtype: str | None = None,
    return_sequences: bool = True,
    *,
    go_backwards: bool = False,
    input_dropout_mask: jax.Array | None = None,
    recurrent_dropout_mask: jax.Array | None = None,
    zero_output_for_mask: bool = False,
) -> jax.Array:
    """`lstm_layer`'s contract: (time, batch, u) hidden states of x_t (time, batch, in),
    or the last (batch, u) with return_sequences=False; need_input_grad=False returns a
    zero input gradient (the first layer's input is data)."""
    if mask_t is not None or compute_dtype is not None or input_dropout_mask is not None:
        raise NotImplementedError("fused LSTM prototype: no mask, float32, no dropout")
    if recurrent_dropout_mask is not None or zero_output_for_mask:
        raise NotImplementedError("fused LSTM prototype: no mask, float32, no dropout")
    if x_t.dtype != jnp.float32:
        raise NotImplementedError("fused LSTM prototype: float32 only")
    if go_backwards:
        x_t = x_t[::-1]
    return _layer(x_t, kernel, recurrent_kernel, bias, need_input_grad, return_sequences)
