"""Chapter section 'Maximum and average pooling': the hand-written pool2d and the reference.

The chapter's loop (kept in pooling_xfw.textbook) and px.pool2d give the same numbers; then the
same two examples run in all four frameworks.
"""
from _show import np, px, side_by_side

from pooling_xfw import textbook

X = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]], dtype=np.float32)
for mode in ("max", "avg"):
    loop, ref = textbook.pool2d(X, (2, 2), mode), px.pool2d(X, (2, 2), mode)
    print(f"{mode}: textbook {loop.tolist()}  reference {ref.tolist()}  equal: "
          f"{np.array_equal(loop, ref)}")
ok = side_by_side("pool2d(X, (2, 2))", X, (2, 2))
ok &= side_by_side("pool2d(X, (2, 2), 'avg')", X, (2, 2), "avg")
raise SystemExit(0 if ok else 1)
