"""Shared hypothesis strategies: JSON-like values, hostile scalars and structure-aware mutations."""

from __future__ import annotations

import copy
import math
from typing import Any

from hypothesis import strategies as st

# Values that break code which assumes "a number is a sane number" or "a string is short ASCII".
HOSTILE_SCALARS: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    10**400,
    -(10**20),
    1e20,
    -1e12,
    0,
    -1,
    True,
    "",
    "nan",
    "inf",
    "1e400",
    "-99999999999",
    "\x00",
    "\ud800",
    "é" * 3,
    "0" * 5_000,
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(HOSTILE_SCALARS),
)

# Anything `json.loads` can produce: NaN, ±Infinity, huge ints and lone surrogates included.
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)

JsonPath = tuple[str | int, ...]


def paths(value: Any, prefix: JsonPath = (), leaves_only: bool = False) -> list[JsonPath]:
    """Every location in a JSON tree (the root included), or only its scalar leaves."""
    children: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    found: list[JsonPath] = [] if leaves_only and children else [prefix]
    for key, item in children:
        found.extend(paths(item, (*prefix, key), leaves_only))
    return found


def _replace(tree: Any, path: JsonPath, new: Any) -> Any:
    if not path:
        return new
    parent = tree
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    return tree


def _delete(tree: Any, path: JsonPath) -> Any:
    if not path:
        return {}
    parent = tree
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return tree


@st.composite
def mutated(draw: st.DrawFn, seed: Any, max_mutations: int = 2) -> Any:
    """`seed` with one to `max_mutations` edits: a leaf set to a (hostile) scalar, a subtree replaced by
    arbitrary JSON, deleted, or wrapped in a list. Leaf edits dominate: they reach the deepest code."""
    tree = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, max_mutations))):
        action = draw(st.sampled_from(["leaf"] * 5 + ["replace", "delete", "wrap"]))
        path = draw(st.sampled_from(paths(tree, leaves_only=action == "leaf")))
        if action == "leaf":
            tree = _replace(tree, path, draw(scalars))
        elif action == "replace":
            tree = _replace(tree, path, draw(json_values))
        elif action == "delete":
            tree = _delete(tree, path)
        else:
            parent: Any = tree
            for step in path:
                parent = parent[step]
            tree = _replace(tree, path, [copy.deepcopy(parent)])
    return tree
