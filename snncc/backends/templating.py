"""Loading the Jinja2 templates shipped as ``snncc.templates`` (``templates/`` in the
source tree)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

import jinja2

from snncc.backends.common import Line, comment_text
from snncc.backends.registry import lookup


def templates_dir() -> Path:
    """The folder holding ``torch/``, ``triton/``, ... templates."""
    try:
        from importlib.resources import files

        p = Path(str(files("snncc.templates")))
        if p.is_dir():
            return p
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "templates"


@functools.cache
def environment(target: str) -> jinja2.Environment:
    """The Jinja2 environment of the templates of the registered backend ``target``,
    with its ``template_options`` and the filter ``comment``
    (:func:`~snncc.backends.common.comment_text` with its ``comment_closer``)."""
    backend = lookup(target)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / target)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             **backend.template_options)
    # ``{{ text | comment }}``: every text a template puts after "#"
    env.filters["comment"] = functools.partial(comment_text, closer=backend.comment_closer)
    env.filters["code"] = functools.partial(code_block, marker=backend.comment_marker,
                                            closer=backend.comment_closer)
    return env


def code_block(lines: Iterable[Line], indent: int = 0, marker: str = "#",
               closer: str = "") -> str:
    """``{{ lines | code(8) }}``: each line's comment (as a comment of the target) and
    code, indented by ``indent`` spaces (every physical line of a multi-line code)."""
    pad = " " * indent
    out: list[str] = []
    for ln in lines:
        if ln.comment:
            out.append(f"{pad}{marker} {comment_text(ln.comment, closer=closer)}")
        out += [pad + part if part else "" for part in ln.code.splitlines()]
    return "\n".join(out)


def render(target: str, name: str, **context: object) -> str:
    """Render ``templates/<target>/<name>`` with ``context``."""
    return environment(target).get_template(name).render(**context)
