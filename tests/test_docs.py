"""The README and the manual in docs/: they build, their links hold, and their examples run.

Every code block of README.md and docs/*.md is one of:

- ``python``: run as a script of its own (with this checkout importable; a block that imports
  a backend's adapter, ``from pooling_xfw.adapters import pytorch``, runs in that backend's
  environment, as the docs say to); a ``text`` block right after it is its printed output;
- ``sh``: each ``pooling-xfw`` command in it run (exit 0, or 1 where a framework differs);
- ``console``: each ``$ pooling-xfw ...`` line run, the lines after it its printed output;
- anything else (``text``, a listing): read, not run.

A printed output is checked line by line: each line shown must be printed, in that order
(``...`` stands for lines left out).  A block the docs show but that cannot run here (a
fragment of larger code, a command for another machine) follows a comment saying so,
``<!-- excerpt: ... -->`` or ``<!-- not run: ... -->``.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pooling_xfw.runtime import envs

from . import warm_cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^\n`]*)$")
SKIP = re.compile(r"^\s*<!-- (excerpt|not run)(: (?P<why>.+?))? -->\s*$")
ADAPTER = re.compile(r"^from pooling_xfw\.adapters import (\w+)", re.M)


class Block:
    def __init__(self, page: Path, line: int, info: str, text: str, skipped: str | None):
        self.page, self.line, self.info, self.text, self.skipped = page, line, info, text, skipped
        self.output: str | None = None  # the text block printed after it

    @property
    def language(self) -> str:
        return self.info.split()[0] if self.info.strip() else ""

    def __repr__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The page's fenced code blocks, each with the comment before it and the text block
    right after a runnable one."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent = len(opening["indent"])
        start = i
        i += 1
        body = []
        while i < len(lines) and not re.match(r"^ *```\s*$", lines[i]):
            body.append(lines[i][indent:])
            i += 1
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        skip = SKIP.match(before)
        block = Block(page, start + 1, opening["info"].strip(), "\n".join(body) + "\n",
                      (skip["why"] or skip[1]) if skip else None)
        previous = found[-1] if found else None
        between = lines[previous.end:start] if previous else []
        if (previous is not None and block.language == "text"
                and previous.language in ("python", "sh") and not any(
                    line.strip() for line in between)):
            previous.output = block.text
        block.end = i + 1
        found.append(block)
        i += 1
    return found


ALL = [b for page in PAGES for b in blocks(page)]
RUN = [b for b in ALL if b.language in ("python", "sh", "console") and not b.skipped]


def _environment() -> dict:
    return dict(envs.quiet_env(), NO_COLOR="1", NO_MKDOCS_2_WARNING="1")


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def assert_printed(shown: str, printed: str, where) -> None:
    """Each line ``shown`` is a line of ``printed``, in order; ``...`` skips any lines."""
    got = _lines(printed)
    at = 0
    for line in _lines(shown):
        if line.strip() in ("...", ""):
            continue
        while at < len(got) and got[at] != line:
            at += 1
        assert at < len(got), f"{where}: not printed (in this order): {line!r}\n--- printed:\n" \
                              f"{printed}"
        at += 1


def _command(line: str) -> list[str]:
    words = shlex.split(line, comments=True)
    assert words[0] == "pooling-xfw", line
    return [sys.executable, "-m", "pooling_xfw", *words[1:]]


def _checkout_view(tmp_path: Path) -> Path:
    """A folder that reads as the checkout (each top-level entry linked) so that an example's
    relative paths hold, while what it writes (``--save-onnx models/``) lands in ``tmp_path``,
    never in the checkout."""
    view = tmp_path / "checkout"
    view.mkdir()
    for entry in ROOT.iterdir():
        if not entry.name.startswith("."):
            (view / entry.name).symlink_to(entry)
    return view


def _run(argv: list[str], where, cwd: Path) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=_environment(),
                          timeout=900)
    return _printed(proc, where)


def _printed(proc: subprocess.CompletedProcess, where) -> str:
    """What a command or script printed: it exits 0, or 1 where a framework differs."""
    assert proc.returncode in (0, 1), f"{where}: {shlex.join(proc.args[2:])}: exit " \
                                      f"{proc.returncode}\n{proc.stdout}{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module", autouse=True)
def _warm_driver_stopped_after():
    """The examples run in a warm driver of the docs' environment (``warm_cli``: its workers
    started once for every block); it ends with this module."""
    yield
    warm_cli.stop()


def _commands(text: str) -> list[str]:
    """The commands of an sh block: continuation lines joined, comments and blanks dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_the_docs_have_examples_that_run_and_skip_only_with_a_reason():
    assert len(RUN) >= 15, RUN
    for block in ALL:
        if block.skipped is not None:
            assert block.skipped.strip() not in ("excerpt", "not run"), (
                f"{block}: say what it is or why it is not run")


def test_a_printed_output_check_catches_a_wrong_line():
    assert_printed("a\n...\nc", "a\nb\nc\n", "self-test")
    with pytest.raises(AssertionError):
        assert_printed("a\nd", "a\nb\nc\n", "self-test")
    with pytest.raises(AssertionError):
        assert_printed("c\na", "a\nb\nc\n", "self-test")  # in order


@pytest.mark.parametrize("block", RUN, ids=repr)
def test_the_example_runs_and_prints_what_the_docs_show(block, tmp_path):
    here = _checkout_view(tmp_path)
    if block.language == "python":
        script = tmp_path / "example.py"
        script.write_text(block.text)
        adapter = ADAPTER.search(block.text)
        if adapter:  # in that backend's own environment
            python = envs.interpreter(adapter[1])
            assert python, f"{block}: no environment for {adapter[1]} (run `make envs`)"
            printed = _run([python, str(script)], block, here)
        else:
            printed = _printed(warm_cli.run_script(script, here, _environment()), block)
        if block.output is not None:
            assert_printed(block.output, printed, block)
    elif block.language == "sh":
        commands = _commands(block.text)
        assert commands and all(c.startswith("pooling-xfw ") for c in commands), (
            f"{block}: an sh block runs pooling-xfw commands only; say why not: {commands}")
        printed = "".join(_printed(warm_cli.run(_command(c)[3:], here, _environment()), block)
                          for c in commands)
        if block.output is not None:
            assert_printed(block.output, printed, block)
    else:  # console: "$ command" lines, each followed by what it prints
        session = re.split(r"^\$ ", block.text, flags=re.M)
        assert not session[0].strip(), f"{block}: a console block starts with '$ '"
        for part in session[1:]:
            command, _, shown = part.partition("\n")
            assert_printed(shown, _printed(warm_cli.run(_command(command)[3:], here,
                                                        _environment()), block), block)


def test_the_docs_build_with_no_warning(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d",
                           str(tmp_path / "site")], capture_output=True, text=True, cwd=ROOT,
                          env=_environment(), timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    assert (tmp_path / "site" / "reference" / "index.html").stat().st_size > 50_000


def test_the_readme_is_a_front_door_and_its_links_hold():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    links = re.findall(r"\]\(([^)#]+)(#[^)]*)?\)", readme)
    assert links
    for target, _ in links:
        if not target.startswith("http"):
            assert (ROOT / target).is_file(), target
    pages = {p.name for p in DOCS.glob("*.md")}
    linked = {Path(t).name for t, _ in links if t.startswith("docs/")}
    assert pages <= linked, f"pages the README does not link: {sorted(pages - linked)}"


def test_every_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        assert f": {page.name}" in nav, page.name
