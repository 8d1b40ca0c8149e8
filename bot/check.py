"""``python -m bot check``: validate knowledge/ and dialogs/, listing every problem at once.

Among them: a name with two meanings (an alias two rows claim, an alias that is also a near
miss, a title or an ambiguous name), reported with both places; an ambiguous candidate whose
label does not name its target; a job word that is also a name.
"""

from __future__ import annotations

import sys

from bot.dialog import load_dialog
from bot.engine import Engine
from bot.knowledge import KnowledgeError, load_knowledge, name_index


def main(argv: list[str]) -> int:
    """Exit 0 with a one-line summary, or 1 with one line per problem."""
    if argv:
        print("用法: python -m bot check", file=sys.stderr)
        return 2
    try:
        kb = load_knowledge()
        dialog = load_dialog(kb)
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"check: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    try:  # the engine reads sub-keys of lexicon.yaml the loader does not list
        Engine(kb, dialog)
    except (KeyError, TypeError, ValueError) as exc:
        print(f"lexicon.yaml / replies.yaml: the engine cannot be built: "
              f"{type(exc).__name__} {exc}", file=sys.stderr)
        print("check: 1 problem(s)", file=sys.stderr)
        return 1
    rows = {key: len(cat.rows) for key, cat in kb.catalogues.items()}
    print(f"check: ok — rows {rows}, {len(kb.notes)} notes, {len(name_index(kb))} names, "
          f"{len(kb.near_misses)} near misses, {len(kb.ambiguous)} ambiguous names, "
          f"dialog {dialog.name!r} with {len(dialog.states)} states")
    return 0
