"""A GluonCV-like block (MXNet): layers in __init__, F.Pooling in hybrid_forward."""
from mxnet.gluon import nn


class Stem(nn.HybridBlock):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pool = nn.MaxPool2D(pool_size=3, strides=2, padding=1)
        self.head = nn.GlobalAvgPool2D()

    def hybrid_forward(self, F, x):
        x = self.pool(x)
        x = F.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                      pooling_convention="full")
        return F.Pooling(x, kernel=(1, 1), pool_type="avg", global_pool=True)
