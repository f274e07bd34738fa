"""The porting assistant: a framework's own pooling call -> the neutral spec -> every framework.

* ``translate(call, frm, shape)`` (``translation``): parse the call, render the code each
  framework runs for the same numbers (the adapters' plans: the code shown is the code that
  runs), and verify by running the source call as written and every target on a random input
  with negative values.
* ``explain(call_a, frm_a, call_b, frm_b)`` (``explanation``): are two calls equivalent?  If
  not, each cause, classified, with the smallest input that shows the difference; with
  ``frm_b="recipe"``, a known broken port of an adaptive pooling (``recipe_check``).
* ``audit_chapter()``: both, over every tab of the chapter and the historical d2l-en 1270/1271
  configurations (``chapter``); ``scan``: every pooling call of a file or a tree.

Calls are read by one AST reader (``parse``) with each framework's dialect; ``native`` runs a
call as written, in its framework's worker.
"""
from __future__ import annotations

from .explanation import Cause, Explanation, explain_calls, reads, to_layout
from .native import evaluate, neutral_kwargs, random_input, run_native, run_native_grad
from .parse import NativeCall, nan_policy, parse, tie_policy
from .recipe_check import RecipeExplanation, explain_recipe
from .translation import Target, Translation, constant_pad, tie_policy_of, translate

__all__ = ["parse", "NativeCall", "translate", "explain", "explain_recipe", "Translation",
           "Target", "Explanation", "RecipeExplanation", "Cause", "run_native",
           "run_native_grad", "evaluate", "reads", "constant_pad", "tie_policy_of",
           "neutral_kwargs", "random_input", "to_layout", "nan_policy", "tie_policy"]


def explain(call_a: str, frm_a: str, call_b: str, frm_b: str, shape=None, verify: bool = True,
            pool=None) -> Explanation | RecipeExplanation:
    """Are two native calls equivalent?  Each cause, classified, and the smallest input that
    shows the difference (run in both frameworks when ``verify``).  ``shape``: the input shape
    (in A's layout) to judge; by default every size from 1 to 9 on each spatial axis (1 to 6
    in 3-D).  ``frm_b="recipe"``:
    ``call_b`` names a known broken port of A's adaptive pooling (``recipes.recipes()``)."""
    if frm_b == "recipe":
        return explain_recipe(call_a, frm_a, call_b, shape=shape, verify=verify, pool=pool)
    return explain_calls(call_a, frm_a, call_b, frm_b, shape=shape, verify=verify, pool=pool)
