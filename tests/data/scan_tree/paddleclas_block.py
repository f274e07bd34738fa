"""A PaddleClas-like ResNet-vd shortcut and stem (Paddle)."""
import paddle.nn as nn
import paddle.nn.functional as F


class ShortcutVd(nn.Layer):
    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool2D(kernel_size=2, stride=2, padding=0, ceil_mode=True)
        self.max_pool = nn.MaxPool2D(kernel_size=3, stride=2, padding=1)

    def forward(self, x):
        y = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, exclusive=False)
        return self.pool(x) + y
