"""Export a trained network for serving elsewhere: an ONNX file and a TensorFlow SavedModel.

``export(net, out_dir, name, card)`` writes, atomically (temporary names in ``out_dir``, then renames):

* ``NAME.onnx`` — through Keras' own ``model.export(format="onnx")`` (tf2onnx underneath);
* ``NAME.savedmodel/`` — ``model.export(format="tf_saved_model")``, servable by TF Serving;
* ``NAME.export.json`` — the card: input (uint8-range RGB, float32, H x W x 3, any batch), output names,
  the source model's card, checksums, and the largest difference between ONNX Runtime's and Keras'
  outputs on a seeded batch of images (the export is refused when it exceeds ``TOLERANCE``).

The networks take raw 0..255 pixel values: rescaling is a layer inside them.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import artifacts
from .errors import StudioError

TOLERANCE = 1e-4


def _outputs(result) -> dict[str, np.ndarray]:
    if isinstance(result, dict):
        return {k: np.asarray(v) for k, v in result.items()}
    if isinstance(result, (list, tuple)):
        return {f"output_{i}": np.asarray(v) for i, v in enumerate(result)}
    return {"output_0": np.asarray(result)}


def sample_batch(height: int, width: int, n: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3)).astype(np.float32)


def onnx_outputs(path, batch: np.ndarray) -> dict[str, np.ndarray]:
    """Run an exported ONNX file with ONNX Runtime: ``{output name: array}``."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise StudioError("onnxruntime is not installed (it is in requirements.txt: "
                          "pip install -r requirements.txt)") from None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, {session.get_inputs()[0].name: batch.astype(np.float32)})
    return dict(zip(names, values))


def max_difference(keras_out: dict, onnx_out: dict) -> float:
    """Largest absolute difference, matching outputs by name, else by order and shape."""
    if set(keras_out) == set(onnx_out):
        pairs = [(keras_out[k], onnx_out[k]) for k in keras_out]
    else:
        left = sorted(keras_out.items())
        right = list(onnx_out.values())
        if len(left) != len(right):
            raise StudioError(f"the ONNX file has {len(right)} outputs, the Keras model {len(left)}")
        pairs = []
        for _, k in left:      # outputs of the same shape may be ordered differently: take the closest
            candidates = [r for r in right if r.shape == k.shape]
            if not candidates:
                raise StudioError("an ONNX output has no Keras output of the same shape")
            best = min(candidates, key=lambda r: float(np.abs(r - k).max()))
            pairs.append((k, best))
    return max(float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max()) for a, b in pairs)


def export(net, out_dir, name: str, card: dict, seed: int = 0) -> Path:
    """Write NAME.onnx, NAME.savedmodel/ and NAME.export.json into ``out_dir``; returns the card path."""
    try:
        import tf2onnx  # noqa: F401
    except ImportError:
        raise StudioError("ONNX export needs tf2onnx and onnxruntime (they are in requirements.txt: "
                          "pip install -r requirements.txt)") from None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    height, width = (int(v) for v in net.input_shape[1:3])
    batch = sample_batch(height, width, seed=seed)
    keras_out = _outputs(net.predict(batch, verbose=0))      # also "calls" the model, which export needs
    work = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out_dir))
    try:
        onnx_tmp, saved_tmp = work / f"{name}.onnx", work / f"{name}.savedmodel"
        try:
            net.export(str(onnx_tmp), format="onnx", verbose=False)
            net.export(str(saved_tmp), format="tf_saved_model", verbose=False)
        except Exception as exc:                                   # converter errors come in many types
            raise StudioError(f"export failed ({type(exc).__name__}: {str(exc)[:200]})") from None
        diff = max_difference(keras_out, onnx_outputs(onnx_tmp, batch))
        if not diff <= TOLERANCE:
            raise StudioError(f"the ONNX model differs from Keras by {diff:.2e} (> {TOLERANCE}); not written")
        onnx_final, saved_final = out_dir / f"{name}.onnx", out_dir / f"{name}.savedmodel"
        os.replace(onnx_tmp, onnx_final)
        if saved_final.exists():                     # a folder cannot be replaced in one step: swap aside
            old = work / "previous.savedmodel"
            os.replace(saved_final, old)
        os.replace(saved_tmp, saved_final)
        export_card = {"name": name, "input": {"dtype": "float32", "range": "0..255 RGB",
                                               "shape": [None, height, width, 3]},
                       "outputs": sorted(keras_out), "onnx": onnx_final.name,
                       "onnx_sha256": artifacts.sha256(onnx_final.read_bytes()),
                       "savedmodel": saved_final.name, "max_abs_difference_onnx_vs_keras": diff,
                       "check": {"images": len(batch), "seed": seed, "tolerance": TOLERANCE},
                       "date": artifacts.now(), "source_card": card}
        return artifacts.atomic_write_json(out_dir / f"{name}.export.json", export_card)
    finally:
        shutil.rmtree(work, ignore_errors=True)
