"""Chapter section 'Multiple channels': pooling each channel separately keeps the channel count."""
from _show import np, side_by_side

X = np.arange(16, dtype=np.float32).reshape((1, 1, 4, 4))
X = np.concatenate((X, X + 1), 1)
ok = side_by_side("MaxPool2D(3, padding=1, strides=2) on concat(X, X + 1)", X, 3, padding=1,
                  stride=2)
raise SystemExit(0 if ok else 1)
