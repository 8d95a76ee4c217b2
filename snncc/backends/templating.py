"""Loading the Jinja2 templates shipped as ``snncc.templates`` (``templates/`` in the
source tree)."""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

from snncc.backends.common import comment_text


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


# targets whose templates put block tags on lines of their own (removed when rendered)
_TAG_LINES = {"triton"}
# what ends a comment of each target whose comments are not "# ... <end of line>"
_COMMENT_CLOSERS: dict[str, str] = {}


@functools.cache
def environment(target: str) -> jinja2.Environment:
    """The Jinja2 environment of one target (``"torch"``, ``"triton"``), with the filter
    ``comment`` (:func:`~snncc.backends.common.comment_text`)."""
    tidy = target in _TAG_LINES
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / target)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=tidy, lstrip_blocks=tidy)
    # ``{{ text | comment }}``: every text a template puts after "#"
    env.filters["comment"] = functools.partial(comment_text,
                                               closer=_COMMENT_CLOSERS.get(target, ""))
    return env


def render(target: str, name: str, **context: object) -> str:
    """Render ``templates/<target>/<name>`` with ``context``."""
    return environment(target).get_template(name).render(**context)
