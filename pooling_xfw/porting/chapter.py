"""The chapter's framework tabs as written, and the historical d2l-en 1270/1271 configurations,
audited: each tab run as written in its framework, on the chapter's input and on ``X - 100``,
and explained against the MXNet tab (the chapter's first).  The MXNet, PyTorch, TensorFlow and
Paddle tabs are the chapter's; the JAX tab is the English edition's (d2l-en, cited at
``JAX_SOURCE``), which the chapter does not carry."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..cases import by_name
from ..reference import pool2d
from ..runtime.client import WorkerFailure
from . import NativeCall, to_layout, explain, parse, run_native, translate

_TF_PAD_RECIPE = """paddings = tf.constant({paddings})
X_padded = tf.pad(X, paddings, "CONSTANT")
pool2d = tf.keras.layers.MaxPool2D(pool_size={size}, padding='valid', strides={strides})
pool2d(X_padded)"""

_P1S2 = {
    "mxnet": "pool2d = nn.MaxPool2D(3, padding=1, strides=2)\npool2d(X)",
    "pytorch": "pool2d = nn.MaxPool2d(3, padding=1, stride=2)\npool2d(X)",
    "tensorflow": _TF_PAD_RECIPE.format(paddings="[[0, 0], [1,0], [1,0], [0,0]]", size="[3, 3]",
                                        strides="2"),
    "paddle": "pool2d = nn.MaxPool2D(3, padding=1, stride=2)\npool2d(X)"}

#: the English edition's JAX tab, as printed: d2l-ai/d2l-en,
#: chapter_convolutional-neural-networks/pooling.md, its ``%%tab jax`` cells (unchanged since
#: commit c6134986f1d191cb41a745557acc405311da56f6, "JAX: Add discussion tabs"); the chapter's
#: import cell first (it says what ``nn`` and ``jnp`` are), then each pooling cell
JAX_SOURCE = ("d2l-ai/d2l-en", "chapter_convolutional-neural-networks/pooling.md",
              "c6134986f1d191cb41a745557acc405311da56f6")
_JAX_IMPORTS = ("from d2l import jax as d2l\nfrom flax import linen as nn\nimport jax\n"
                "from jax import numpy as jnp\n")
_JAX_P1S2 = _JAX_IMPORTS + ("X_padded = jnp.pad(X, ((0, 0), (1, 0), (1, 0), (0, 0)), "
                            "mode='constant')\nnn.max_pool(X_padded, window_shape=(3, 3), "
                            "padding='VALID', strides=(2, 2))\n")
_P1S2["jax"] = _JAX_P1S2

# (case in px.cases.CHAPTER, {framework: the tab's code as printed in the chapter})
TABS = (
    ("maxpool-k3", {
        "mxnet": "pool2d = nn.MaxPool2D(3)\npool2d(X)",
        "pytorch": "pool2d = nn.MaxPool2d(3)\npool2d(X)",
        "tensorflow": "pool2d = tf.keras.layers.MaxPool2D(pool_size=[3, 3])\npool2d(X)",
        "paddle": "pool2d = nn.MaxPool2D(3, stride=3)\npool2d(X)",
        "jax": _JAX_IMPORTS + ("# Pooling has no model parameters, hence it needs no "
                               "initialization\nnn.max_pool(X, window_shape=(3, 3), "
                               "strides=(3, 3))\n")}),
    ("maxpool-k3-p1-s2", _P1S2),
    ("maxpool-k2x3-p0x1-s2x3", {
        "mxnet": "pool2d = nn.MaxPool2D((2, 3), padding=(0, 1), strides=(2, 3))\npool2d(X)",
        "pytorch": "pool2d = nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))\npool2d(X)",
        "tensorflow": _TF_PAD_RECIPE.format(paddings="[[0, 0], [0, 0], [1, 1], [0, 0]]",
                                            size="[2, 3]", strides="(2, 3)"),
        "paddle": "pool2d = nn.MaxPool2D((2, 3), padding=(0, 1), stride=(2, 3))\npool2d(X)",
        "jax": _JAX_IMPORTS + ("\nX_padded = jnp.pad(X, ((0, 0), (0, 0), (1, 1), (0, 0)), "
                               "mode='constant')\nnn.max_pool(X_padded, window_shape=(2, 3), "
                               "strides=(2, 3), padding='VALID')\n")}),
    ("maxpool-k3-p1-s2-2ch", {**_P1S2,  # the same tabs, but Paddle's spells out paddle.nn
                              "paddle": "pool2d = paddle.nn.MaxPool2D(3, padding=1, stride=2)\n"
                                        "pool2d(X)"}),
)

# d2l-en issues 1270 and 1271: the MXNet tab, and what the ported tabs printed at the time
HISTORICAL = (
    ("d2l-en 1270", ("mxnet", "nn.MaxPool2D((2, 3), padding=(1, 2), strides=(2, 3))"),
     ("pytorch", "nn.MaxPool2d((2, 3), padding=(1, 1), stride=(2, 3))")),
    ("d2l-en 1271", ("mxnet", "nn.MaxPool2D((2, 3), padding=(1, 2), strides=(2, 3))"),
     ("tensorflow", "tf.keras.layers.MaxPool2D(pool_size=[2, 3], padding='same', "
                    "strides=(2, 3))")),
)
SHIFT = -100.0


@dataclasses.dataclass
class TabFinding:
    case: str
    framework: str
    code: str
    prints_chapter_output: bool | None
    on_shifted: np.ndarray | None  # the tab as written, on X - 100
    shifted_reference: np.ndarray
    verdict: str  # Explanation.verdict
    causes: list  # (kind, detail)
    error: str = ""


def _run(native: NativeCall, x: np.ndarray, pool) -> tuple[np.ndarray | None, str]:
    try:
        return run_native(native, to_layout(x, "NCHW", native.spec["layout"]), pool), ""
    except WorkerFailure as failure:
        return None, failure.reason


def _plane(y: np.ndarray, native: NativeCall) -> np.ndarray:
    return to_layout(y, native.spec["layout"], "NCHW")


def audit_tabs(pool=None) -> list[TabFinding]:
    findings = []
    for case_name, tabs in TABS:
        case = by_name(case_name)
        x = case.input
        reference_tab = tabs["mxnet"]
        shifted_ref = pool2d(x + SHIFT, **case.kwargs)
        for framework, code in tabs.items():
            native = parse(framework, code)
            out, error = _run(native, x, pool)
            shifted, error2 = _run(native, x + SHIFT, pool)
            why = explain(reference_tab, "mxnet", code, framework, shape=x.shape, verify=False)
            findings.append(TabFinding(
                case_name, framework, code,
                None if out is None else bool(np.array_equal(_plane(out, native), case.expected)),
                None if shifted is None else _plane(shifted, native), shifted_ref, why.verdict,
                [(c.kind, c.detail) for c in why.causes], error or error2))
    return findings


def size_dependence(code_a: str, frm_a: str, code_b: str, frm_b: str) -> list[tuple]:
    """(kind, detail) of the causes that appear across input sizes H, W in 1..9."""
    return [(c.kind, c.detail) for c in explain(code_a, frm_a, code_b, frm_b,
                                                verify=False).causes]


def audit_history(pool=None) -> list[dict]:
    rows = []
    for name, (frm_a, call_a), (frm_b, call_b) in HISTORICAL:
        why = explain(call_a, frm_a, call_b, frm_b, shape=(1, 1, 4, 4), pool=pool)
        port = translate(call_a, frm_a, (1, 1, 4, 4), to=frm_b, pool=pool)
        rows.append({"name": name, "a": (frm_a, call_a), "b": (frm_b, call_b),
                     "explanation": why, "translation": port})
    return rows


def _fmt(a) -> str:
    return "-" if a is None else np.array2string(np.asarray(a).reshape(
        (-1,) + np.shape(a)[-2:])[0], separator=", ").replace("\n", "")


def render(tabs: list[TabFinding], history: list[dict], dependence: dict) -> str:
    """``dependence``: per padded tab (its label), the causes against the MXNet tab's
    padding=1 over input sizes."""
    repo, path, commit = JAX_SOURCE
    lines = ["The chapter's tabs, as written, audited against the MXNet tab (the chapter's "
             "first) and the neutral reference.",
             f"The JAX tab is the English edition's: {repo}, {path}, its %%tab jax cells "
             f"(commit {commit[:12]}).", ""]
    for t in tabs:
        prints = {True: "prints the chapter's output", False: "does NOT print the chapter's "
                  "output", None: "could not run"}[t.prints_chapter_output]
        same = ("not run" if t.on_shifted is None else
                "same" if np.array_equal(t.on_shifted, t.shifted_reference) else "DIFFERENT")
        lines.append(f"{t.case} / {t.framework}: {prints}; on X{SHIFT:+g}: {_fmt(t.on_shifted)}"
                     f" (reference {_fmt(t.shifted_reference)}: {same}); vs the MXNet tab: "
                     f"{t.verdict}")
        lines += [f"    - {kind}: {detail}" for kind, detail in t.causes]
        if t.error:
            lines.append(f"    error: {t.error}")
    for label, causes in dependence.items():
        lines += ["", f"The {label} against the MXNet tab's padding=1, over input sizes:"]
        lines += [f"    - {kind}: {detail}" for kind, detail in causes]
    for row in history:
        why, port = row["explanation"], row["translation"]
        lines += ["", f"{row['name']}: {row['a'][0]} {row['a'][1]}  vs  {row['b'][0]} "
                      f"{row['b'][1]}", "    " + why.to_text().replace("\n", "\n    ").rstrip()]
        target = port.targets[row["b"][0]]
        lines += [f"    the {row['a'][0]} call ported to {row['b'][0]} by this toolkit: "
                  f"{target.verdict} ({'; '.join(target.reasons) or 'one call'}), "
                  f"{target.check}",
                  "        " + target.code.replace("\n", "\n        ")]
    return "\n".join(lines) + "\n"


def unrun(tabs: list[TabFinding], history: list[dict]) -> dict[str, str]:
    """Each framework that could not run some part of the audit, and why (empty: all ran)."""
    found = {}
    for t in tabs:
        if t.error:
            found.setdefault(t.framework, t.error)
    for row in history:
        for framework, why in {**row["explanation"].unrun, **row["translation"].unrun}.items():
            found.setdefault(framework, why)
    return found


def audit(pool=None) -> str:
    """The whole audit, as text."""
    return run_audit(pool)[0]


def run_audit(pool=None) -> tuple[str, dict[str, str]]:
    """The whole audit, as text, and each framework that could not run, with why (``unrun``)."""
    tabs_p1s2 = dict(TABS[1][1])
    dependence = {label: size_dependence(tabs_p1s2["mxnet"], "mxnet", tabs_p1s2[fw], fw)
                  for label, fw in (("TensorFlow tab's tf.pad((1, 0))", "tensorflow"),
                                    ("JAX tab's jnp.pad((1, 0))", "jax"))}
    tabs, history = audit_tabs(pool), audit_history(pool)
    return render(tabs, history, dependence), unrun(tabs, history)
