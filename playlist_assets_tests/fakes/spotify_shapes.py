"""Response shapes of the Web API the fake needs: paging objects and the `fields` filter."""

from __future__ import annotations

from urllib.parse import urlencode

FieldTree = dict[str, "FieldTree | None"]


def paging(items: list, *, base_url: str, path: str, query: dict[str, str], offset: int, limit: int) -> dict:
    """A paging object whose `next`/`previous` are absolute URLs keeping the other parameters."""
    page = items[offset : offset + limit]

    def link(at: int) -> str:
        return f"{base_url.rstrip('/')}{path}?{urlencode({**query, 'offset': at, 'limit': limit})}"

    return {
        "href": link(offset),
        "items": page,
        "limit": limit,
        "next": link(offset + limit) if offset + limit < len(items) else None,
        "offset": offset,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "total": len(items),
    }


def parse_fields(spec: str) -> FieldTree:
    """`a,b(c,d),e.f` -> {"a": None, "b": {"c": None, "d": None}, "e": {"f": None}}."""
    tree, rest = _parse_list(spec.replace(" ", ""))
    if rest:
        raise ValueError(f"unbalanced parentheses in fields: {spec!r}")
    return tree


def _parse_list(text: str) -> tuple[FieldTree, str]:
    tree: FieldTree = {}
    while text and text[0] != ")":
        name, sub, text = _parse_one(text)
        if name:
            tree[name] = _merge(tree.get(name), sub) if name in tree else sub
        text = text[1:] if text.startswith(",") else text
    return tree, text


def _parse_one(text: str) -> tuple[str, FieldTree | None, str]:
    """One field: `name`, `name(list)` or `name.field` (the same as `name(field)`)."""
    name_end = next((i for i, ch in enumerate(text) if ch in ",()."), len(text))
    name, text = text[:name_end], text[name_end:]
    sub: FieldTree | None = None
    if text.startswith("("):
        sub, text = _parse_list(text[1:])
        if not text.startswith(")"):
            raise ValueError("unbalanced parentheses in fields")
        text = text[1:]
    elif text.startswith("."):
        inner, inner_sub, text = _parse_one(text[1:])
        sub = {inner: inner_sub}
    return name, sub, text


def _merge(a: FieldTree | None, b: FieldTree | None) -> FieldTree | None:
    if a is None or b is None:
        return None if (a is None and b is None) else (a or b)
    return {**a, **b}


def apply_fields(value: object, tree: FieldTree | None) -> object:
    """Keep only the named fields; lists are filtered element by element, as the API does."""
    if tree is None:
        return value
    if isinstance(value, list):
        return [apply_fields(v, tree) for v in value]
    if isinstance(value, dict):
        return {k: apply_fields(value[k], sub) for k, sub in tree.items() if k in value}
    return value
