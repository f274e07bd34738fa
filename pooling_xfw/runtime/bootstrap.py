"""What a worker's interpreter is given: this toolkit's sources, shipped through the gateway.

The interpreter at the other end of a gateway (a venv here, a GPU box over ssh) needs only
Python, numpy and its framework: ``remote_exec(BOOTSTRAP)`` receives the sources of
``pooling_xfw`` (its ``adapters`` included) as text, imports them from memory (a finder placed first on
``sys.meta_path``, so a different installed copy never shadows them) and starts
``pooling_xfw.runtime.worker.serve``.  Nothing is written on the other side and nothing of the
caller's ``site-packages`` is put on the worker's path.
"""
from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def _adapters_dir() -> Path:
    """``adapters/``: at the top of a checkout (mapped to ``pooling_xfw.adapters``), inside
    the package once installed."""
    import pooling_xfw.adapters

    return Path(pooling_xfw.adapters.__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def sources() -> dict[str, tuple[bool, str]]:
    """Every module the worker may import: name -> (is_package, source)."""
    modules: dict[str, tuple[bool, str]] = {}
    roots = {"pooling_xfw": PACKAGE_ROOT, "pooling_xfw.adapters": _adapters_dir()}
    for package, root in roots.items():
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join((package, *(parts[:-1] if is_package else parts)))
            modules[name] = (is_package, path.read_text(encoding="utf-8"))
    return modules


def payload(backend: str, adapter: ModuleType, dialect: ModuleType | None, hooks: bool,
            threads: int | None, slots: list[str] = ()) -> dict:
    """The first message to a worker of ``backend``: the sources (with its ``adapter``'s and
    ``dialect``'s own when they live outside this package: a backend kept out of the tree, a
    test double), the backend's name and its adapter module's, and the worker's settings (its
    framework's ``threads``; the pool's compute ``slots``, for a worker on this machine)."""
    modules = sources()
    for module in (adapter, dialect):
        if module is not None and module.__name__ not in modules:
            modules = {**modules, module.__name__: (False, Path(module.__file__).read_text(
                encoding="utf-8"))}
    return {"modules": modules, "backend": backend, "adapter": adapter.__name__,
            "hooks": hooks, "threads": threads, "slots": list(slots)}


#: Run on the worker by ``gateway.remote_exec``; ``channel`` is execnet's.  Its first message
#: is ``payload(...)``.
BOOTSTRAP = '''
import importlib.abc, importlib.util, sys

class ShippedSources(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Modules imported from the sources the caller sent."""
    def __init__(self, modules):
        self.modules = modules
    def find_spec(self, name, path=None, target=None):
        if name not in self.modules:
            return None
        is_package = self.modules[name][0]
        return importlib.util.spec_from_loader(name, self, is_package=is_package)
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        is_package, source = self.modules[module.__name__]
        filename = "<shipped>/" + module.__name__.replace(".", "/") + (
            "/__init__.py" if is_package else ".py")
        if is_package:
            module.__path__ = []
        module.__file__ = filename
        exec(compile(source, filename, "exec"), module.__dict__)

payload = channel.receive()
sys.meta_path.insert(0, ShippedSources(payload["modules"]))
for name in [n for n in sys.modules if n.split(".")[0] == "pooling_xfw"]:
    del sys.modules[name]
from pooling_xfw.runtime.worker import serve
serve(channel, payload["backend"], payload["adapter"], payload["hooks"], payload.get("threads"),
      payload.get("slots", ()))
'''
