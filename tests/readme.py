"""The README's Python examples, as the tests read them."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
#: Put on the line before a deliberately partial block to keep it out of the type check.
SKIP = "<!-- no-typecheck -->"

_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks(text: str | None = None) -> list[tuple[int, str, bool]]:
    """``(line, code, checked)`` for every ```python block, ``checked`` False when the
    block is preceded by :data:`SKIP`."""
    text = README.read_text(encoding="utf-8") if text is None else text
    blocks = []
    for match in _BLOCK.finditer(text):
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        line = text.count("\n", 0, match.start()) + 1
        blocks.append((line, match.group(1), before.strip() != SKIP))
    return blocks


def block_containing(needle: str) -> str:
    """The one README Python block that contains ``needle``."""
    found = [code for _, code, _ in python_blocks() if needle in code]
    assert len(found) == 1, f"{len(found)} README blocks contain {needle!r}"
    return found[0]
