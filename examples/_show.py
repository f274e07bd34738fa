"""Printing helpers shared by the examples: one framework's result next to the reference."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import pooling_xfw as px  # noqa: E402


def flat(a) -> str:
    return np.array2string(np.asarray(a), separator=", ").replace("\n", "")


def side_by_side(title: str, X, pool_size, mode="max", **kwargs) -> bool:
    """Run one example on every backend and print each result next to the reference."""
    result = px.compare(X, pool_size, mode, **kwargs)
    print(f"\n{title}")
    print(f"  {'reference':<22} {flat(result.reference)}")
    for name, r in result.results.items():
        label = f"{name} {r.framework_version or ''}".strip()
        value = flat(r.output) if r.output is not None else r.detail
        print(f"  {label:<22} {value}   [{r.status}{', ' + r.how['path'] if r.how else ''}]")
    return result.ok
