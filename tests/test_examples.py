"""The examples run as a reader runs them, and say what they claim."""
import subprocess
import sys
from pathlib import Path

import pytest

from pooling_xfw import registry

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name: str) -> str:
    proc = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("name,expected", [
    ("01_textbook_pool2d.py", ["max: textbook [[4.0, 5.0], [7.0, 8.0]]", "equal: True",
                               "paddle 3.3.1           [[2., 3.], [5., 6.]]   [agree, native]"]),
    ("02_padding_and_stride.py", ["MaxPool2D(3)  (stride = window = 3)",
                                  "tensorflow 2.21.0      [[[[10.]]]]   [agree, native]"]),
    ("03_multiple_channels.py", ["mxnet 1.9.1            [[[[ 5.,  7.],   [13., 15.]],  "
                                 "[[ 6.,  8.],   [14., 16.]]]]   [agree, native]"]),
    ("04_tensorflow_zero_padding.py", ["chapter's tf.pad recipe   [[  0.,   0.], [  0., -85.]]",
                                       "reference (-inf padding)  [[-95., -93.], [-87., -85.]]",
                                       "chapter's tf.pad recipe   [[0., 0.], [0., 0.]]",
                                       "differs from the reference in 2 of 4 runs"]),
    ("05_adapter_in_your_environment.py", ["equals px.pool2d: True", "path: emulated",
                                           "t1 = F.pad(x, (1, 0, 1, 0), value=float('-inf'))"]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_example(name, expected):
    out = run(name)
    for line in expected:
        assert line in out, line


def test_every_example_is_tested():
    scripts = {p.name for p in EXAMPLES.glob("[0-9]*.py")}
    assert scripts == {"01_textbook_pool2d.py", "02_padding_and_stride.py",
                       "03_multiple_channels.py", "04_tensorflow_zero_padding.py",
                       "05_adapter_in_your_environment.py"}


def test_the_classifier_heads_case_file_agrees_on_every_backend():
    """examples/cases_heads.json, as the README runs it: every head on every backend."""
    import json

    proc = subprocess.run([sys.executable, "-m", "pooling_xfw", "report", "--cases",
                           str(EXAMPLES / "cases_heads.json"), "--format", "json"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(c["name"], c["op"]) for c in doc["cases"]] == [
        ("resnet-head", "global"), ("keras-head-nhwc", "global"),
        ("adaptive-14-to-7", "adaptive"), ("adaptive-7-to-3-max", "adaptive")]
    assert [c["reference_matches_expected"] for c in doc["cases"]] == [None, None, None, True]
    assert doc["summary"]["agree"] == 4 * len(registry.defaults()) and doc["summary"]["exit_code"] == 0
