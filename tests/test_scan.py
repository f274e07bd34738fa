"""``scan``: every pooling call in a mixed tree of model files, read with each file's imports,
as a worklist (file:line, spec, verdict per target), and its command line."""
import json
import os
from pathlib import Path

import pytest

from pooling_xfw.porting import scan as scanning
from pooling_xfw import registry

BACKENDS = registry.defaults()

from .test_cli import cli

TREE = str(Path(__file__).parent / "data" / "scan_tree")

#: where -> (framework, spec subset or the start of why it is not understood, verdicts for
#: tensorflow and pytorch at 1,3,32,32).  Specs are each call read by its framework's
#: documented defaults; verdicts are the kind translate gives (ceil into TensorFlow, which has no
#: ceil mode, SAME into PyTorch, which has no SAME, and adaptive pooling into TensorFlow, which
#: has no adaptive op, are emulated with pads or bins computed from the input's shape, for
#: every size; global pooling is native everywhere).
EXPECTED = {
    "adaptive_heads.py:7": ("pytorch", dict(output_size=(3, 3), mode="max", layout="NCHW"),
                            {"tensorflow": "emulated", "pytorch": "native"}),
    "adaptive_heads.py:11": ("tensorflow", dict(output_size=(7, 7), mode="avg", layout="NHWC"),
                             {"tensorflow": "emulated", "pytorch": "native"}),
    # Flax (NHWC; flax's default stride is 1) and lax.reduce_window: a window sum divided by
    # the window's size or by the same sum of ones is the average (padding counted or not)
    "flax_model.py:13": ("jax", dict(pool_size=(3, 3), stride=(2, 2), padding=((1, 1), (1, 1)),
                                     mode="max", layout="NHWC"),
                         {"tensorflow": "native", "pytorch": "native"}),
    "flax_model.py:14": ("jax", dict(pool_size=(2, 2), padding="same", mode="avg",
                                     count_include_pad=False),
                         {"tensorflow": "native", "pytorch": "emulated"}),
    "flax_model.py:17": ("jax", dict(pool_size=(2, 2), stride=(2, 2), padding="valid"),  # partial
                         {"tensorflow": "native", "pytorch": "native"}),
    "flax_model.py:21": ("jax", dict(pool_size=(3, 3), stride=(1, 1), padding="same", mode="avg",
                                     count_include_pad=True),
                         {"tensorflow": "emulated", "pytorch": "emulated"}),
    "flax_model.py:25": ("jax", dict(pool_size=(2, 2), padding="same", mode="avg",
                                     count_include_pad=False),
                         {"tensorflow": "native", "pytorch": "emulated"}),
    # the ones, summed into a variable: a window sum, sum pooling (divisor=1)
    "flax_model.py:31": ("jax", dict(pool_size=(2, 2), stride=(2, 2), padding="same", mode="avg",
                                     divisor=1, divisor_of="sum"),
                         {"tensorflow": "emulated", "pytorch": "emulated"}),
    "flax_model.py:32": ("jax", "argument 'ones' is a variable", None),
    "flax_model.py:36": ("jax", dict(pool_size=(2, 2), stride=(2, 2), layout="NCHW"),
                         {"tensorflow": "native", "pytorch": "native"}),
    "flax_model.py:40": ("jax", "the init value enters every window", None),  # max(0, window)
    "flax_model.py:44": ("jax", "flax.linen exports no min_pool", None),
    "gluon_model.py:8": ("mxnet", dict(pool_size=3, stride=2, padding=1, mode="max"),
                         {"tensorflow": "native", "pytorch": "native"}),
    "gluon_model.py:9": ("mxnet", dict(mode="avg", keepdims=True, layout="NCHW"),
                         {"tensorflow": "native", "pytorch": "native"}),
    "gluon_model.py:13": ("mxnet", dict(pool_size=(3, 3), stride=(2, 2), padding=(1, 1),
                                        mode="avg", ceil_mode="keep", count_include_pad=True),
                          {"tensorflow": "emulated", "pytorch": "native"}),
    # global_pool=True: the whole input, whatever its size (kernel ignored)
    "gluon_model.py:15": ("mxnet", dict(mode="avg", keepdims=True),
                          {"tensorflow": "native", "pytorch": "native"}),
    "keras_application.py:9": ("tensorflow", dict(pool_size=3, stride=2, padding="valid",
                                                  layout="NHWC"),
                               {"tensorflow": "native", "pytorch": "native"}),
    "keras_application.py:14": ("tensorflow", dict(pool_size=2, stride=2, mode="avg"),
                                {"tensorflow": "native", "pytorch": "native"}),
    "keras_application.py:19": ("tensorflow", dict(mode="avg", keepdims=False, layout="NHWC"),
                                {"tensorflow": "native", "pytorch": "native"}),
    # return_indices=True: the values and each window's argmax, PyTorch's plane indices
    "mixed_imports.py:8": ("pytorch", dict(pool_size=2, stride=2, indices="plane"),
                           {"tensorflow": "native", "pytorch": "native"}),
    "mixed_imports.py:9": ("pytorch", "unpooling", None),
    "mixed_imports.py:13": ("tensorflow", dict(pool_size=(2, 2), stride=(2, 2),
                                               padding="same", layout="NHWC"),
                            {"tensorflow": "native", "pytorch": "emulated"}),
    "mixed_imports.py:17": ("pytorch", "argument 'k' is a variable", None),
    "mixed_imports.py:21": ("pytorch", dict(pool_size=3, stride=2, ceil_mode=True, mode="avg"),
                            {"tensorflow": "emulated", "pytorch": "native"}),
    "paddleclas_block.py:9": ("paddle", dict(pool_size=2, stride=2, ceil_mode="keep",
                                             count_include_pad=False),
                              {"tensorflow": "emulated", "pytorch": "native"}),
    "paddleclas_block.py:10": ("paddle", dict(pool_size=3, stride=2, padding=1),
                               {"tensorflow": "native", "pytorch": "native"}),
    "paddleclas_block.py:13": ("paddle", dict(pool_size=3, stride=1, padding=1,
                                              count_include_pad=True),
                               {"tensorflow": "emulated", "pytorch": "native"}),
    "resnet_stem.py:12": ("pytorch", dict(pool_size=3, stride=2, padding=1),
                          {"tensorflow": "native", "pytorch": "native"}),
    "resnet_stem.py:13": ("pytorch", dict(mode="avg", keepdims=True),  # (1, 1): global
                          {"tensorflow": "native", "pytorch": "native"}),
    "legacy/tf1_model.py:6": ("tensorflow", dict(pool_size=(3, 3), stride=(2, 2),
                                                 padding="valid", layout="NHWC"),
                              {"tensorflow": "native", "pytorch": "native"}),
}


@pytest.fixture(scope="module")
def worklist():
    return scanning.scan(TREE, to=["tensorflow", "pytorch"])


def test_scan_finds_every_pooling_call_and_nothing_else(worklist):
    assert [e.where for e in worklist.entries] == list(EXPECTED)
    assert worklist.files == 8


@pytest.mark.parametrize("where", list(EXPECTED))
def test_scan_entry(worklist, where):
    entry = next(e for e in worklist.entries if e.where == where)
    framework, spec, verdicts = EXPECTED[where]
    assert entry.framework == framework
    if isinstance(spec, str):
        assert not entry.understood and spec in entry.why, entry.why
        assert entry.targets == {}
        return
    assert entry.understood, entry.why
    for key, value in spec.items():
        assert entry.spec[key] == value, key
    assert {n: t.verdict.split(":")[0] for n, t in entry.targets.items()} == verdicts
    for target in entry.targets.values():
        # the last statement makes y (a global pooling that drops H and W adds a note on y)
        assert [line for line in target.code.splitlines()
                if not line.startswith("#")][-1].startswith("y = ")


def test_scan_summary_counts_per_call_and_target(worklist):
    counts = worklist.counts()
    verdicts = [v for _, _, vs in EXPECTED.values() if vs for v in vs.values()]
    assert counts == {v: verdicts.count(v) for v in scanning.VERDICTS} | {
        "not understood": sum(vs is None for _, _, vs in EXPECTED.values())}
    assert not worklist.portable


def test_scan_reads_nn_and_F_by_each_files_imports(worklist):
    by = {e.where: e.function for e in worklist.entries}
    assert by["resnet_stem.py:12"] == "torch.nn.MaxPool2d"
    assert by["gluon_model.py:8"] == "mxnet.gluon.nn.MaxPool2D"
    assert by["paddleclas_block.py:13"] == "paddle.nn.functional.avg_pool2d"
    assert by["mixed_imports.py:21"] == "torch.nn.functional.avg_pool2d"
    assert by["gluon_model.py:13"] == "mxnet.nd.Pooling"  # hybrid_forward's F, not imported
    assert by["legacy/tf1_model.py:6"] == "tensorflow.compat.v1.nn.max_pool"
    assert by["gluon_model.py:9"] == "mxnet.gluon.nn.GlobalAvgPool2D"
    assert by["adaptive_heads.py:11"] == "keras.layers.AdaptiveAveragePooling2D"
    assert by["flax_model.py:13"] == "flax.linen.max_pool"
    assert by["flax_model.py:17"] == "flax.linen.max_pool"  # partial(nn.max_pool, ...)
    assert by["flax_model.py:25"] == "jax.lax.reduce_window"
    assert by["flax_model.py:44"] == "flax.linen.min_pool"


def test_scan_verify_runs_each_source_and_target(pool):
    result = scanning.scan(TREE, to=["tensorflow", "pytorch"], shape=(1, 2, 9, 9), verify=True,
                           pool=pool)
    understood = [e for e in result.entries if e.understood]
    assert len(understood) == 25  # the return_indices call included
    for entry in understood:
        assert entry.source_check == "agrees with the neutral spec", entry.where
        for name, target in entry.targets.items():
            assert target.check.startswith("agrees with the source call on "), (
                entry.where, name, target.check)
    assert result.unrun == {} and result.differs == []


def test_scan_into_onnxruntime_lists_each_nodes_attributes():
    result = scanning.scan(str(Path(TREE) / "flax_model.py"), to=["onnxruntime"])
    entry = next(e for e in result.entries if e.where == "flax_model.py:14")
    details = entry.targets["onnxruntime"].details
    assert details and details[0].startswith("ONNX node"), details
    assert "count_include_pad=0 (default)" in details[0] and "auto_pad='SAME_UPPER'" in \
        details[0], details
    assert f"       # {details[0]}" in result.to_text()
    assert json.loads(result.to_json())["entries"][1]["targets"]["onnxruntime"]["details"] == \
        details


def test_scan_reports_an_unimported_prefix_and_a_file_that_does_not_parse(tmp_path):
    """A prefix no import binds is a call not understood; a file that does not parse is a file
    not read (its calls are unknown, so the scan is not portable), not a pooling call."""
    (tmp_path / "a.py").write_text("pool = nn.MaxPool2d(2)\n")
    (tmp_path / "b.py").write_text("def broken(:\n")
    (tmp_path / "c.py").write_text("from mymodels import nn\npool = nn.MaxPool2d(2)\n")
    result = scanning.scan(str(tmp_path))
    assert [(e.where, e.understood) for e in result.entries] == [("a.py:1", False)]
    assert "nn is not imported in this file" in result.entries[0].why
    assert result.unread == [("b.py", "does not parse (line 1: invalid syntax): its calls "
                                      "cannot be read")]
    assert result.files == 2 and not result.portable
    assert "1 pooling call in 2 files" in result.summary() and "1 file not read" in \
        result.summary()


def test_scan_skips_a_named_pipe_and_a_device_without_reading_them(tmp_path):
    """A named pipe called *.py would block a read forever, a device never ends: neither is
    opened for reading; each is named as skipped, and the scan of the rest goes on."""
    os.mkfifo(tmp_path / "f.py")
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    (tmp_path / "m.py").write_text("import torch.nn as nn\npool = nn.MaxPool2d(2)\n")
    proc = cli("scan", str(tmp_path), "--to", "tensorflow", check_exit=0)  # never blocks
    assert "m.py:2  pytorch  nn.MaxPool2d(2)" in proc.stdout
    assert "  skipped: f.py: a named pipe, not a regular file" in proc.stdout
    assert "  skipped: zero.py: a character device, not a regular file" in proc.stdout
    assert "1 pooling call in 1 file: " in proc.stdout and "2 skipped" in proc.stdout
    alone = cli("scan", str(tmp_path / "f.py"), check_exit=0)
    assert "skipped: f.py: a named pipe" in alone.stdout


def test_scan_reads_a_file_in_the_encoding_its_coding_line_names(tmp_path):
    """PEP 263: a latin-1 file with its coding line is Python, read as Python reads it; bytes
    that no coding line explains are a file not read, with why."""
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nimport torch.nn as nn\n"
                                        b"label = 'caf\xe9'\npool = nn.MaxPool2d(3)\n")
    (tmp_path / "bad.py").write_bytes(b"label = 'caf\xe9'\n")
    result = scanning.scan(str(tmp_path))
    assert [(e.where, e.understood) for e in result.entries] == [("latin.py:4", True)]
    assert [f for f, _ in result.unread] == ["bad.py"]
    assert result.unread[0][1].startswith("cannot decode it")


def test_a_function_the_file_defines_itself_is_not_a_pooling_call(tmp_path):
    (tmp_path / "own.py").write_text(
        "def avg_pool(x, k):\n    return x\n\ny = avg_pool(1, 2)\n\n"
        "class Net:\n    def forward(self, x):\n        return self.max_pool2d(x)\n"
        "    def max_pool2d(self, x):\n        return x\n")
    (tmp_path / "other.py").write_text("y = avg_pool(1, 2)\n")  # bound nowhere: a framework's?
    result = scanning.scan(str(tmp_path))
    assert [e.where for e in result.entries] == ["other.py:1"]
    assert "avg_pool is not imported in this file" in result.entries[0].why


def test_a_file_name_is_shown_as_one_row_without_control_characters(tmp_path):
    name = "we\x1b[31mird\nname.py"
    (tmp_path / name).write_text("import torch.nn as nn\npool = nn.MaxPool2d(2)\n")
    for fmt in ("text", "markdown"):
        out = cli("scan", str(tmp_path), "--to", "tensorflow", "--format", fmt,
                  check_exit=0).stdout
        assert "\x1b" not in out and "we\\x1b[31mird\\nname.py" in out, out
    data = json.loads(cli("scan", str(tmp_path), "--format", "json", check_exit=0).stdout)
    assert data["entries"][0]["file"] == name  # JSON escapes it itself


# --- command line ---------------------------------------------------------------------------

def test_cli_scan_text_json_markdown_and_exit_codes(tmp_path):
    out = cli("scan", TREE, "--to", "tensorflow,pytorch", check_exit=1).stdout
    assert "resnet_stem.py:12  pytorch  nn.MaxPool2d(kernel_size=3, stride=2, padding=1)" in out
    assert "  not understood: mixed_imports.py:17: argument 'k' is a variable" in out
    summary = next(line for line in out.splitlines() if line.startswith("summary: "))
    assert summary.startswith("summary: 30 pooling calls in 8 files: 25 understood, 5 not ")
    target = tmp_path / "scan.json"
    cli("scan", TREE, "--to", "pytorch", "--format", "json", "--output", str(target),
        check_exit=1)
    data = json.loads(target.read_text())
    assert data["schema"] == "pooling-xfw/scan/1" and len(data["entries"]) == 30
    stem = next(e for e in data["entries"] if e["file"] == "resnet_stem.py" and e["line"] == 12)
    assert stem["spec"]["pool_size"] == 3 and stem["targets"]["pytorch"]["verdict"] == "native"
    md = cli("scan", TREE, "--format", "markdown", check_exit=1).stdout
    assert "| resnet_stem.py:12 | pytorch |" in md
    portable = cli("scan", str(Path(TREE) / "legacy" / "tf1_model.py"), check_exit=0).stdout
    assert portable.count("\n  -> ") == len(BACKENDS) - 1  # every default backend but its own
    assert "summary: 1 pooling call in 1 file: " in portable
    # ceil into TensorFlow: emulated with pads from the input's shape, for every size
    assert "0 size-dependent" in cli("scan", str(Path(TREE) / "paddleclas_block.py"),
                                     check_exit=0).stdout
    # adaptive into TensorFlow: emulated with bins from the input's shape, for every size
    assert "0 size-dependent" in cli("scan", str(Path(TREE) / "adaptive_heads.py"),
                                     check_exit=0).stdout


@pytest.mark.parametrize("args,flag", [
    (["scan", "no/such/dir"], "PATH no/such/dir"),
    (["scan", TREE, "--to", "torch"], "--to torch"),
    (["scan", TREE, "--shape", "8,8"], "--shape 8,8"),
    (["scan", TREE, "--format", "html"], "--format html"),
], ids=["missing-path", "unknown-target", "shape-not-4d", "format-html"])
def test_cli_scan_usage_errors(args, flag):
    proc = cli(*args, check_exit=2)
    assert proc.stderr.count("\n") == 1 and flag in proc.stderr and "allowed:" in proc.stderr


def test_a_file_nested_too_deeply_to_parse_is_not_read_and_the_scan_goes_on(tmp_path):
    (tmp_path / "deep.py").write_text("x = " + "+".join(["1"] * 5000) + "\n")
    (tmp_path / "nul.py").write_bytes(b"x = 1\x00\n")
    (tmp_path / "m.py").write_text("import torch.nn as nn\npool = nn.MaxPool2d(2)\n")
    result = scanning.scan(str(tmp_path))
    assert [e.where for e in result.entries] == ["m.py:2"]
    assert dict(result.unread) == {
        "deep.py": "does not parse (nested too deeply for Python's parser): its calls cannot "
                   "be read",
        "nul.py": "does not parse (source code string cannot contain null bytes): its calls "
                  "cannot be read"}


@pytest.mark.parametrize("source,why", [
    ("from tensorflow.nn import avg_pool2d\ndef avg_pool2d(x, k):\n    return x\n"
     "y = avg_pool2d(1, 2)\n",
     "avg_pool2d is bound to more than one thing in this file (tensorflow.nn.avg_pool2d, the "
     "file's own)"),
    ("import torch.nn.functional as F\na = F.max_pool2d(x, 2)\n"
     "import paddle.nn.functional as F\nb = F.max_pool2d(x, 2)\n",
     "F is bound to more than one thing in this file (paddle.nn.functional, "
     "torch.nn.functional)"),
], ids=["imported-then-defined", "imported-twice-differently"])
def test_a_name_bound_to_two_things_is_not_guessed(tmp_path, source, why):
    """Which binding a call reaches depends on the code's flow: said, not guessed (a name
    imported twice alike is one binding)."""
    (tmp_path / "m.py").write_text(source)
    (tmp_path / "same.py").write_text("import torch.nn.functional as F\n"
                                      "import torch.nn.functional as F\na = F.max_pool2d(x, 2)\n")
    result = scanning.scan(str(tmp_path))
    ambiguous = [e for e in result.entries if e.file == "m.py"]
    assert ambiguous and all(e.why.startswith(why) for e in ambiguous), [e.why for e in ambiguous]
    assert [e.framework for e in result.entries if e.file == "same.py"] == ["pytorch"]


@pytest.mark.parametrize("kind,problem", [("loop", "a symlink loop"),
                                          ("dangling", "a symlink to nowhere, which does not exist")])
def test_a_path_that_is_a_broken_link_says_which(tmp_path, kind, problem):
    link = tmp_path / "l1"
    if kind == "loop":
        (tmp_path / "l2").symlink_to(link)
        link.symlink_to(tmp_path / "l2")
    else:
        link.symlink_to("nowhere")
    proc = cli("scan", str(link), check_exit=2)
    assert f"PATH {link}: {problem}; allowed: a .py file or a directory" in proc.stderr
