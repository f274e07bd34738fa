"""``explain_recipe``: a known broken port of an adaptive pooling (``recipes``) against the
call it stands for: at which input sizes it holds, and the smallest that shows it does not."""
from __future__ import annotations

import dataclasses
import re

from ..compare import input_scale, tolerance
from ..errors import PoolingError
from ..runtime.client import WorkerFailure, default_pool
from . import recipes, sizes
from .parse import NativeCall, parse
from .explanation import Cause, short_form
from .native import COULD_NOT_RUN, check_agreement, evaluate, neutral_kwargs, random_input


@dataclasses.dataclass
class RecipeExplanation:
    """An adaptive call against a known recipe for it: where the recipe holds and why not."""

    a: NativeCall
    recipe: object  # pooling_xfw.dialect.Recipe
    output_size: tuple
    holds: list  # (H, W) in 1..LIMIT where the recipe gives the call's numbers
    judged: int  # how many (H, W) were judged (0: the recipe is documented, not modelled)
    runs: dict = dataclasses.field(default_factory=dict)  # "HxW" -> what its framework did
    unrun: dict = dataclasses.field(default_factory=dict)
    note: str = ""  # a size it holds at that was not run, and why

    @property
    def equivalent(self) -> bool:
        """False where the recipe breaks for some size judged (keras-jax: for an output size
        measured to give NaN)."""
        if not self.judged:
            return self.measured and not set(self.output_size) & self.recipe.breaks_at
        return len(self.holds) == self.judged

    @property
    def measured(self) -> bool:
        """Whether the documented recipe (keras-jax) was measured at this output size."""
        return all(1 <= o <= recipes.LIMIT for o in self.output_size)

    @property
    def verdict(self) -> str:
        if not self.judged and not self.measured:
            return (f"not known: measured for output sizes 1 to {recipes.LIMIT} only, "
                    f"not run here")
        if not self.judged and self.equivalent:
            return ("equivalent where measured (no NaN for this output size with n <= 24), "
                    "not run here")
        if self.judged and self.equivalent:
            return f"equivalent on every size judged (H, W in 1..{recipes.LIMIT})"
        return "NOT equivalent"

    @property
    def causes(self) -> list:
        return [Cause("recipe", self.recipe.why)]

    def to_text(self) -> str:
        r, (oh, ow) = self.recipe, self.output_size
        lines = [f"A ({self.a.framework}): {self.a.function}  " + short_form(self.a),
                 f"B (recipe {r.name}): {r.what}", f"verdict: {self.verdict}",
                 f"  - recipe: {r.why}"]
        if self.judged and 0 in self.output_size:
            lines.append(f"  gives A's numbers on none of the {self.judged} input sizes (H, W in "
                         f"1..{recipes.LIMIT}): it divides each axis by the output size, here 0")
        elif self.judged:
            lines.append(f"  gives A's numbers on {len(self.holds)} of the {self.judged} input "
                         f"sizes (H, W in 1..{recipes.LIMIT}): H % {oh} == 0 and W % {ow} == 0")
        else:
            lines.append("  parse-only: documented from measurements, not run here")
        lines += [f"  run in {r.framework} at {hw}: {what}" for hw, what in self.runs.items()]
        lines += [f"  {self.note}"] if self.note else []
        return "\n".join(lines) + "\n"


#: the largest (H, W) plane a recipe is run at past the judged sizes (cells)
RECIPE_RUN_CELLS = 1 << 20


def _recipe_witnesses(grid, holds, output) -> list[tuple[int, int]]:
    """The sizes a recipe is run at: the smallest where it breaks (one at least as large as
    the output, where there is one), and the smallest where it holds with more than one cell
    per bin (past the judged sizes, twice the output size, when none of them holds, or the
    output size itself, one cell per bin, where twice is more than ``RECIPE_RUN_CELLS``; none
    for an output size of 0, which it never computes, nor one too large to run here)."""
    def by_area(found):
        return sorted(found, key=lambda s: (s[0] * s[1], s))

    breaks = by_area(hw for hw in grid if hw not in holds)
    broken = next((hw for hw in breaks if min(hw) >= max(output)), breaks[0] if breaks else None)
    held = next((hw for hw in by_area(holds) if min(hw) > 1), None)
    if held is None and min(output) > 0:
        held = next(((k * output[0], k * output[1]) for k in (2, 1)
                     if k * output[0] * k * output[1] <= RECIPE_RUN_CELLS), None)
    return [hw for hw in (broken, held) if hw is not None]


def explain_recipe(call_a: str, frm_a: str, name: str, shape=None, verify: bool = True,
                   pool=None) -> RecipeExplanation:
    """``call_a`` (an adaptive or global call) against the recipe ``name`` for the same output
    size, mode and layout: the sizes where the recipe gives its numbers, and (``verify``) the
    recipe run in its framework where it breaks and where it holds."""
    r = recipes.recipe(name)
    a = parse(frm_a, call_a)
    if a.op.has_window or a.spec["mode"] not in ("max", "avg"):
        raise PoolingError(f"call: got {call_a!r} for recipe {name!r}; allowed: an adaptive or "
                           f"global max/avg call (the recipes port adaptive pooling)")
    layout = a.spec["layout"]
    if len(layout) != 4:
        raise PoolingError(f"call: got {call_a!r} for recipe {name!r}, a {len(layout) - 2}-D "
                           f"pooling; allowed: a 2-D adaptive or global call (the recipes are "
                           f"2-D code)")
    output = a.spec.get("output_size", (1, 1))  # a global call: one cell per plane
    if None in output:
        raise PoolingError(f"call: got output_size {a.spec['output_size']}; allowed: ints for "
                           f"a recipe (they take no None)")
    grid = [(h, w) for h in range(1, recipes.LIMIT + 1) for w in range(1, recipes.LIMIT + 1)]
    if r.framework is None:
        return RecipeExplanation(a, r, output, [], 0)
    holds = [hw for hw in grid if r.holds(hw[0], output[0]) and r.holds(hw[1], output[1])]
    result = RecipeExplanation(a, r, output, holds, len(grid))
    if shape is not None:
        base = tuple(int(v) for v in shape)
        hw0 = sizes.spatial_of(base, layout)
    else:
        base, hw0 = ((1, 2, 1, 1) if layout == "NCHW" else (1, 1, 1, 2)), None
    tries = [hw0] if hw0 else _recipe_witnesses(grid, holds, output)
    if not hw0 and len(tries) < 2 and min(output) > 0:
        result.note = (f"not run where it holds: its smallest such input, {output[0]}x"
                       f"{output[1]}, is more than {RECIPE_RUN_CELLS} cells")
    if not verify:
        return result
    pool = pool or default_pool()
    for hw in tries:
        x_shape = sizes.with_spatial(base, layout, hw)
        x = random_input(x_shape, layout)
        label = f"{hw[0]}x{hw[1]}"
        try:
            plan = recipes.recipe_plan(r, output, a.spec["mode"], layout, x_shape)
        except ZeroDivisionError as exc:  # its own arithmetic, before any framework call
            result.runs[label] = (f"raises ZeroDivisionError: {exc} (its axis // output size, "
                                  f"with an output size of 0)")
            continue
        try:
            hello = pool.start([r.framework])[r.framework]
            if isinstance(hello, WorkerFailure):
                raise hello
            reply, arrays = pool.worker(r.framework).request(
                {"op": "run-plan", "plan": plan.to_json()}, [x])
        except WorkerFailure as failure:
            result.unrun[r.framework] = failure.reason
            result.runs[label] = f"{COULD_NOT_RUN}{failure.reason}"
            continue
        if reply["status"] != "ok":
            message = re.sub(r"\{\{[^}]*\}\}\s*", "", reply["message"])  # TF's node names
            result.runs[label] = f"raises {message[:200]}"
            continue
        expected = evaluate(a, x)
        got = arrays[0].reshape(expected.shape) if arrays[0].size == expected.size else arrays[0]
        tol = tolerance(a.spec["mode"], expected.dtype)
        result.runs[label] = check_agreement(got, expected, tol,
                                        input_scale(x, sizes.resolve_op(
                                            a.op, neutral_kwargs(a), x.shape)), "A")[0]
    return result
