"""Finding sentences written in the code, for the tests that keep every text in the catalogs."""

from __future__ import annotations

import ast


def written_text(node: ast.AST) -> bool:
    """A text written in the code: a string, an f-string, or one joined (`+`) or chosen
    (`… if … else …`) from them."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return written_text(node.left) or written_text(node.right)
    if isinstance(node, ast.IfExp):
        return written_text(node.body) or written_text(node.orelse)
    return False
