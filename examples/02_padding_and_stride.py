"""Chapter section 'Padding and stride': each tab's layer as a neutral spec, on every backend.

Note the defaults the tabs rely on: every framework's *layer* takes its stride from the window
(MaxPool2D(3) pools with stride 3), while MXNet's npx.pooling and tf.nn.pool default to 1.
"""
from _show import np, side_by_side

X = np.arange(16, dtype=np.float32).reshape((1, 1, 4, 4))
ok = side_by_side("MaxPool2D(3)  (stride = window = 3)", X, 3, stride=3)
ok &= side_by_side("MaxPool2D(3, padding=1, strides=2)", X, 3, padding=1, stride=2)
ok &= side_by_side("MaxPool2D((2, 3), padding=(0, 1), strides=(2, 3))", X, (2, 3),
                   padding=(0, 1), stride=(2, 3))
ok &= side_by_side("the same in NHWC, as TensorFlow's tab lays it out",
                   X.transpose(0, 2, 3, 1), 3, padding=1, stride=2, layout="NHWC")
raise SystemExit(0 if ok else 1)
