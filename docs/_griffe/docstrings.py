"""A griffe extension for the API reference: doctest examples render as code, Sphinx roles as code.

m3search's docstrings carry runnable ``>>>`` examples (pytest runs them) and Sphinx roles
(``:class:`~m3search.types.Embeddings```). In Markdown the first would read as block quotes and
the second as literal text, so this extension rewrites each docstring before rendering: a run
of ``>>>``/``...`` lines and the output lines after it becomes a ``pycon`` code block, and a role
becomes the code span of its target's last name.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const):`([^`]+)`")


def role_text(match: re.Match[str]) -> str:
    target = match.group(1)
    label = re.match(r"(.+?)\s*<.+>$", target)
    if label:
        return f"`{label.group(1)}`"
    return f"`{target[1:].rsplit('.', 1)[-1]}`" if target.startswith("~") else f"`{target}`"


def fence_doctests(text: str) -> str:
    """Wrap each doctest (prompts and their output, up to a blank line) in a ``pycon`` fence."""
    out: list[str] = []
    in_example = False
    indent = ""
    for line in text.splitlines():
        stripped = line.lstrip()
        if not in_example and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.extend(["", f"{indent}```pycon"])
            in_example = True
        elif in_example and not stripped:
            out.extend([f"{indent}```", ""])
            in_example = False
        out.append(line)
    if in_example:
        out.append(f"{indent}```")
    return "\n".join(out)


class DocstringsForMarkdown(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(ROLE.sub(role_text, obj.docstring.value))
