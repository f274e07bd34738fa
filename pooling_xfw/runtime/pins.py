"""A backend's name and its pins: ``BACKEND`` or ``BACKEND@VERSION`` (another release of its
framework than the pinned one), the pinned versions in ``adapters/requirements/<backend>.txt``,
the companion pins of ``versions.txt``, and the text a venv is keyed by (``pins_text``)."""
from __future__ import annotations

import os
import re
from pathlib import Path

from .. import registry


PROJECT_ROOT = Path(__file__).resolve().parents[2]


_INSTALLED_REQUIREMENTS = Path(__file__).resolve().parents[1] / "adapters" / "requirements"


#: the pins: ``adapters/requirements`` at the top of a checkout, ``pooling_xfw/adapters/...`` once installed
REQUIREMENTS_DIR = (_INSTALLED_REQUIREMENTS if _INSTALLED_REQUIREMENTS.is_dir()
                    else PROJECT_ROOT / "adapters" / "requirements")


_BUILT_IN_PINS = REQUIREMENTS_DIR.resolve()


#: the version in ``BACKEND@VERSION``: a release number, ASCII digits and dots, maybe a pre-
#: or post-release suffix and a local label (``2.0.0rc1``, ``1.2.post1``, ``2.13.0+cpu``)
VERSION_PATTERN = re.compile(r"(?P<release>[0-9]+(\.[0-9]+)*)(?P<pre>(a|b|rc)[0-9]+)?"
                             r"(?P<post>\.post[0-9]+)?(?P<local>\+[a-z0-9]+(\.[a-z0-9]+)*)?",
                             re.ASCII | re.IGNORECASE)


#: how a backend is named, for error messages
NAME_FORM = ("BACKEND or BACKEND@VERSION, either with :MACHINE for a column on another machine "
             "(its --gateway)")

#: a column's machine (``pytorch:gpu-box``): a label the column's gateway gives meaning to
MACHINE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*", re.ASCII)


#: the companion pins of versions other than the pinned one (see that file)
VERSIONS_TABLE = "versions.txt"


#: frameworks whose other versions are not built unless asked for with this variable set to 1:
#: what such a build would download
LARGE_VARIABLE = "POOLING_XFW_ALLOW_LARGE"


def split_name(name: str) -> tuple[str, str | None]:
    """``("onnxruntime", "1.22.1")`` of ``onnxruntime@1.22.1`` (and of
    ``onnxruntime@1.22.1:arm-box``); ``(name, None)`` of a plain name."""
    backend, sep, version = split_machine(name)[0].partition("@")
    return backend, (version if sep else None)


def split_machine(name: str) -> tuple[str, str | None]:
    """``("pytorch@2.5.1", "gpu-box")`` of ``pytorch@2.5.1:gpu-box``, a column of that
    framework and version on another machine, reached through the gateway given for the whole
    name; ``(name, None)`` of a column on this machine."""
    column, sep, machine = name.partition(":")
    return column, (machine if sep else None)


def normalized_version(version: str) -> str:
    """One spelling of each version (PEP 440's equality): release numbers without leading
    zeros, at least three of them and no trailing zeros beyond (``01.22.1``, ``1.22.1.0`` ->
    ``1.22.1``; ``2.0`` -> ``2.0.0``), the pre- and post-release numbers likewise, the local
    label in lower case (``2.13.0+CPU`` -> ``2.13.0+cpu``)."""
    found = VERSION_PATTERN.fullmatch(version)
    if found is None:
        return version
    release = [int(part) for part in found["release"].split(".")]
    while len(release) > 3 and release[-1] == 0:
        release.pop()
    release += [0] * (3 - len(release))
    pre = found["pre"] or ""
    if pre:
        kind = re.match(r"[a-z]+", pre.lower()).group(0)
        pre = f"{kind}{int(pre[len(kind):])}"
    post = f".post{int(found['post'][5:])}" if found["post"] else ""
    return ".".join(map(str, release)) + pre + post + (found["local"] or "").lower()


def public_version(version: str) -> str:
    """A normalized version without its local label (``2.13.0+cpu`` -> ``2.13.0``): what a
    pin ``==2.13.0`` installs either way."""
    return normalized_version(version).split("+")[0]


def canonical(name: str) -> str:
    """The environment a backend name selects: the plain name for its pinned version however
    the version is spelled (``onnxruntime@1.32.0``, ``@01.32.0``, ``@1.32.0.0``, and
    ``pytorch@2.13.0+cpu``, the pinned release as its column shows it), else
    ``BACKEND@VERSION`` with the version normalized (``normalized_version``); a column on
    another machine keeps its ``:MACHINE``."""
    column, machine = split_machine(name)
    if machine is not None:
        return f"{canonical(column)}:{machine}"
    backend, version = split_name(name)
    if version is None or name_problem(name):
        return name
    pinned = pinned_version(backend)
    if pinned is not None and public_version(version) == public_version(pinned):
        return backend
    return f"{backend}@{normalized_version(version)}"


def framework_of(name: str) -> str:
    """The backend (adapter, framework) of a name, its version left off."""
    return split_name(name)[0]


def name_problem(name: str) -> str | None:
    """What is wrong with a backend name, in a few words; None when it is one."""
    backend, version = split_name(name)
    if not registry.known(backend):
        return f"unknown backend {backend!r}"
    if version is not None and not version:
        return "no version after '@'"
    if version is not None and not VERSION_PATTERN.fullmatch(version):
        return f"{version!r} is not a version number"
    machine = split_machine(name)[1]
    if machine is not None and not MACHINE_PATTERN.fullmatch(machine):
        return (f"{machine!r} is not a machine's name (letters, digits, '.', '_' and '-')"
                if machine else "no machine after ':'")
    return None


def allowed_names() -> str:
    """Every backend's name, ``each as BACKEND or BACKEND@VERSION (e.g. NAME@ITS_PIN)``."""
    names = registry.names()
    example = next((f"{n}@{pinned_version(n)}" for n in names if pinned_version(n)), "")
    return f"{', '.join(names)}, each as {NAME_FORM}" + (f" (e.g. {example})" if example else "")


def check_backend(name: str) -> str:
    """``name`` when it names a backend (``pytorch``, ``onnxruntime@1.22.1``); else
    ``PoolingError``, one line."""
    from pooling_xfw.errors import PoolingError

    problem = name_problem(name) if isinstance(name, str) else "not a string"
    if problem:
        raise PoolingError(f"backend: got {name!r}: {problem}; allowed: {allowed_names()}")
    return name


def label(name: str, framework_version: str | None = None) -> str:
    """A report's column title: ``pytorch 2.13.0+cpu``, ``onnxruntime 1.22.1``, ``pytorch:gpu-box
    2.13.0+cpu`` (the version the worker said, else the one asked for, else the name alone)."""
    backend, version = split_name(name)
    machine = split_machine(name)[1]
    backend += f":{machine}" if machine is not None else ""  # pytorch:gpu-box 2.13.0+cpu
    shown = framework_version or version
    return f"{backend} {shown}" if shown else backend


def package_of(line: str) -> str | None:
    """The package a pin line names (``torch==2.13.0`` -> ``torch``), None for a comment."""
    text = line.split("#", 1)[0].strip()
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", text)
    return match.group(0).lower().replace("_", "-") if match else None


def _pins_dir(backend: str, directory: Path | None = None) -> Path:
    """Where ``backend``'s pins are: ``directory`` when given, else beside its adapter (this
    checkout's ``REQUIREMENTS_DIR`` for the built-in backends)."""
    if directory:
        return Path(directory)
    own = registry.get(backend).requirements.parent
    return REQUIREMENTS_DIR if own == _BUILT_IN_PINS else own


def pinned_version(backend: str, directory: Path | None = None) -> str | None:
    """The version ``<backend>.txt`` pins its framework at (its first package's pin)."""
    try:
        lines = (_pins_dir(backend, directory) / f"{backend}.txt").read_text().splitlines()
    except (OSError, KeyError):
        return None
    for line in lines:
        if package_of(line) == registry.get(backend).packages[0] and "==" in line:
            return line.split("#", 1)[0].split("==", 1)[1].strip()
    return None


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("rc")[0].split("a")[0]
                                                   .split("b")[0].split(".post")[0]))


def _in_range(version: str, ranges: str) -> bool:
    """Whether ``version`` meets every bound of ``ranges`` (``<1.19``, ``>=1.2,<2``)."""
    have = _release(version)
    for bound in ranges.split(","):
        op, want = re.match(r"\s*(<=|>=|==|<|>)\s*(\S+)", bound).groups()
        want_t = _release(want)
        width = max(len(have), len(want_t))
        a, b = have + (0,) * (width - len(have)), want_t + (0,) * (width - len(want_t))
        if not {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b}[op]:
            return False
    return True


def companion_pins(backend: str, version: str, directory: Path | None = None) -> list[str]:
    """The lines of ``versions.txt`` for ``backend`` whose range holds ``version``: their pins,
    in the order written (a later pin of a package replaces an earlier one)."""
    try:
        lines = (_pins_dir(backend, directory) / VERSIONS_TABLE).read_text().splitlines()
    except OSError:
        return []
    pins = []
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 3 and fields[0] == backend and _in_range(version, fields[1]):
            pins += fields[2:]
    return pins


def pins_text(name: str, directory: Path | None = None) -> bytes:
    """What ``name``'s venv installs (and is keyed by): ``<backend>.txt`` as it is for a plain
    name or the pinned version; ``<backend>@<version>.txt`` when there is one; else
    ``<backend>.txt`` with the framework's own pins set to the version and the companion pins
    of ``versions.txt`` applied.  The rule, written once."""
    backend, version = split_name(name)
    directory = _pins_dir(backend, directory)
    packages = registry.get(backend).packages
    base = directory / f"{backend}.txt"
    pinned = pinned_version(backend, directory)
    if version is None or (pinned is not None and public_version(version) == public_version(pinned)):
        return base.read_bytes()
    version = normalized_version(version)  # one venv per version however it is written
    name = f"{backend}@{version}"
    own = directory / f"{name}.txt"
    if own.is_file():
        return own.read_bytes()
    lines = base.read_text().splitlines()
    replace = {package: f"{package}=={version}" for package in packages}
    for pin in companion_pins(backend, version, directory):
        replace[package_of(pin)] = pin
    out = [f"# {name}: {base.name} with {', '.join(packages)} at {version}"
           f" and the companion pins of {VERSIONS_TABLE}"]
    for line in lines:
        package = package_of(line)
        out.append(replace.pop(package) if package in replace else line)
    out += replace.values()  # companions the base file does not pin
    return ("\n".join(out) + "\n").encode()


def large_build(name: str) -> str | None:
    """Why building ``name``'s venv is refused (a download of several GB), with how to build it
    anyway; None when it is not (or ``POOLING_XFW_ALLOW_LARGE=1`` allows it)."""
    backend, version = split_name(canonical(name))
    declared = registry.get(backend)
    if version is None or not declared.large_build or os.environ.get(LARGE_VARIABLE) == "1":
        return None
    return (f"{backend} other than {pinned_version(backend)} downloads {declared.large_build}, "
            f"not built unless asked for: {LARGE_VARIABLE}=1 pooling-xfw envs create --backends "
            f"{name}, or --python {name}=PATH (a Python with numpy and "
            f"{declared.module} {version})")


def requirements(backend: str) -> Path:
    """The pins' file of a backend (``<backend>.txt``; for ``BACKEND@VERSION`` its own file when
    there is one, else the file its pins are derived from, see ``pins_text``)."""
    backend = canonical(backend)
    directory = _pins_dir(framework_of(backend))
    own = directory / f"{backend}.txt"
    return own if "@" not in backend or own.is_file() else (
        directory / f"{framework_of(backend)}.txt")
