"""Regenerates ``onnx_node_pool.npz`` and ``onnx_node_pool.json``: the ONNX backend node tests of
1-D and 3-D pooling (``MaxPool``, ``AveragePool``, ``LpPool``), as the onnx package's own case
definitions build them (``onnx/backend/test/case/node/{maxpool,averagepool,lppool}.py``, each
expected output from onnx's numpy ``pool`` helper).

Run it with a Python that has the ``onnx`` package (the onnxruntime backend's environment)::

    python tests/data/make_onnx_node_pool.py

The cases draw their inputs with ``np.random.randn``; here each export draws from a fresh
``np.random.RandomState(SEED)``, whose stream numpy keeps stable across versions, so a test
rebuilds a random input from the seed and the shapes drawn up to it (``draws``), and the files
hold the expected outputs (and the inputs a case spells out, as ``test_maxpool_3d_dilations``
does).
"""
import json
from pathlib import Path

import numpy as np
import onnx
import onnx.backend.test.case.node as node_cases
from onnx.backend.test.case.node import averagepool, lppool, maxpool

SEED = 0
HERE = Path(__file__).parent
CLASSES = (maxpool.MaxPool, averagepool.AveragePool, lppool.LpPool)


def main() -> None:
    real_randn = np.random.randn
    drawn = []

    def seeded_randn(*shape):
        drawn.append(shape)
        return rng.randn(*shape)

    np.random.randn = seeded_randn
    node_cases._TargetOpType = None
    arrays, manifest = {}, []
    try:
        for cls in CLASSES:
            for name in sorted(vars(cls)):
                if not name.startswith("export"):
                    continue
                rng, before = np.random.RandomState(SEED), len(node_cases._NodeTestCases)
                drawn.clear()
                node_cases._existing_names.clear()  # the import already ran each export once
                getattr(cls, name)()
                for case in node_cases._NodeTestCases[before:]:
                    (x, *_), outputs = case.data_sets[0]
                    if x.ndim not in (3, 5):
                        continue
                    (node,) = case.model.graph.node
                    attributes = {a.name: onnx.helper.get_attribute_value(a)
                                  for a in node.attribute}
                    manifest.append({
                        "name": case.name, "op": node.op_type, "export": f"{cls.__name__}.{name}",
                        "attributes": {k: v.decode() if isinstance(v, bytes) else v
                                       for k, v in attributes.items()},
                        "opset": case.model.opset_import[0].version, "shape": list(x.shape),
                        "dtype": str(x.dtype), **_source_of(x, drawn)})
                    if manifest[-1]["input"] == "stored":
                        arrays[case.name + "/input"] = x
                    arrays[case.name + "/output"] = outputs[0]
    finally:
        np.random.randn = real_randn
    np.savez_compressed(HERE / "onnx_node_pool.npz", **arrays)
    (HERE / "onnx_node_pool.json").write_text(json.dumps(
        {"source": "onnx/backend/test/case/node/{maxpool,averagepool,lppool}.py",
         "onnx": onnx.__version__, "seed": SEED, "cases": manifest}, indent=1) + "\n")


def _source_of(x: np.ndarray, drawn: list) -> dict:
    """Where a test gets ``x`` again: the ``draws``-th ``randn`` of the seeded stream (the
    shapes drawn up to it, in order), or the file where ``x`` is not drawn."""
    stream = np.random.RandomState(SEED)
    for count, shape in enumerate(drawn, 1):
        if np.array_equal(stream.randn(*shape).astype(x.dtype), x):
            return {"input": "seed", "draws": [list(s) for s in drawn[:count]]}
    return {"input": "stored"}


if __name__ == "__main__":
    main()
