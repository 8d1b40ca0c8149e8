"""The dialog as data: dialogs/eligibility.yaml loaded into an immutable, checked graph."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bot.datacache import YamlError, load_data
from bot.knowledge import Knowledge, KnowledgeError, Problem, freeze
from bot.protocol import SLOTS

DIALOG_DIR = Path(__file__).resolve().parent.parent / "dialogs"
STATE_KEYS = ("slot", "prompt", "rule", "options", "next")
# every wording the code uses: a missing one is reported at load, not when a person meets it
ENGINE_PROMPTS = ("title_series",)  # prompts the engine uses besides the states' own
REPLY_KEYS = (
    "help", "not_understood", "still_waiting", "reset", "cancel", "not_found", "forgotten",
    "answer_reask", "no_credential", "which_credential", "both_purposes",
    "engine_error", "engine_restart", "slot_names",
    "not_found_generic", "answer_unclear", "verdict", "purpose_assumed", "row_line", "row_titles",
    "row_no_title", "lingang_also", "todo_header", "todo_line",
    "level_line", "level_not_accepted", "talent_info", "economist_note",
    "near_nearest", "conflict", "lingang", "lingang_not_skilled", "skilled_info",
    "professional_info", "note_info", "background", "disclaimer", "level_open", "purpose_open",
    "level_names", "purpose_names", "accept_names", "title_line", "title_info",
    "row_ref", "describe", "catalogue_list", "catalogue_item", "thanks",
    "clarify", "also_mentioned", "talent_note5", "near_named", "row_number",
    "catalogue_item_code",
    # the parts of a verdict answer (bot/answer_parts.py)
    "scope", "tier_names", "asks", "checked", "checked_item", "check_prefix", "failed_line",
    "gap_prefix", "gap", "gap_none", "check_where", "way_on", "level_up", "lower_tier",
    "lower_tier_up", "talent_instead", "checklist_header", "checklist_item", "checklist",
    "sources", "next_step", "brief_row", "brief_titles", "brief_level", "brief_title",
    "brief_checklist", "brief_checklist_items",
)


@dataclass(frozen=True)
class State:
    id: str
    slot: str | None
    prompt: str | None
    rule: str | None
    options: tuple[str, ...]
    next: frozenset[str]


@dataclass(frozen=True)
class Dialog:
    """The checked state graph, its prompts and the reply wording."""

    name: str
    start: str
    states: Mapping[str, State]
    prompts: Mapping[str, str]
    replies: Mapping[str, Any]
    way_out: tuple[str, ...] = ()

    @property
    def slot_order(self) -> tuple[str, ...]:
        """Slots in the order their states are declared: the order questions are asked."""
        return tuple(s.slot for s in self.states.values() if s.slot)

    def state_for(self, slot: str | None) -> State:
        """The state that asks ``slot`` (``answered`` for None)."""
        for state in self.states.values():
            if state.slot == slot:
                return state
        return self.states["answered"]

    def move(self, current: str, target: str) -> str:
        """Take the transition current → target, which the graph must allow."""
        if target not in self.states[current].next:
            raise ValueError(f"dialog {self.name}: no transition {current} → {target}")
        return target


def load_dialog(kb: Knowledge, directory: Path = DIALOG_DIR) -> Dialog:
    """Load and check the dialog and the reply wording.

    Raises:
        KnowledgeError: listing every problem (file, place, value, what is allowed).
    """
    problems: list[Problem] = []

    def report(file: str, place: str, value: object, message: str) -> None:
        problems.append(Problem(file, place, value, message))

    data, replies = {}, {}
    for name in ("eligibility.yaml", "replies.yaml"):
        try:
            loaded = load_data(directory / name)
        except YamlError as exc:
            report(exc.path, exc.place, None, exc.message)
            continue
        if not isinstance(loaded, dict):
            report(name, "file", type(loaded).__name__, "expected a mapping")
            continue
        if name == "eligibility.yaml":
            data = loaded
        else:
            replies = loaded
    file = "eligibility.yaml"
    for key in data:
        if key not in ("dialog", "start", "way_out", "states", "prompts"):
            report(file, key, key,
                   "unknown key; allowed: dialog, start, way_out, states, prompts")
    prompts = data.get("prompts") or {}
    raw_states = data.get("states") or {}
    for key, value in (("prompts", prompts), ("states", raw_states)):
        if not isinstance(value, dict):
            report(file, key, type(value).__name__, "expected a mapping")
    prompts = prompts if isinstance(prompts, dict) else {}
    raw_states = raw_states if isinstance(raw_states, dict) else {}
    states: dict[str, State] = {}
    for sid, raw in raw_states.items():
        place = f"states.{sid}"
        raw = raw if isinstance(raw, dict) else {}
        for key in raw:
            if key not in STATE_KEYS:
                report(file, f"{place}.{key}", key, f"unknown key; allowed: {list(STATE_KEYS)}")
        slot, prompt, rule = raw.get("slot"), raw.get("prompt"), raw.get("rule")
        if slot is not None and slot not in SLOTS:
            report(file, f"{place}.slot", slot, f"unknown slot; allowed: {list(SLOTS)}")
        if slot is not None and prompt not in prompts:
            report(file, f"{place}.prompt", prompt, f"unknown prompt; known: {sorted(prompts)}")
        if rule is not None and rule not in kb.notes:
            report(file, f"{place}.rule", rule, f"unknown rule; known: {sorted(kb.notes)}")
        nexts = raw.get("next") or []
        for target in nexts:
            if target not in raw_states:
                report(file, f"{place}.next", target,
                       f"unknown state; known: {sorted(raw_states)}")
        states[sid] = State(sid, slot, prompt, rule, tuple(raw.get("options") or ()),
                            frozenset(nexts))
    start = data.get("start")
    if start not in states:
        report(file, "start", start, f"unknown state; known: {sorted(states)}")
    for required in ("idle", "answered"):
        if required not in states:
            report(file, "states", required, "the engine needs this state")
    _check_graph(states, start, lambda place, value, msg: report(file, place, value, msg))
    asked = {s.slot for s in states.values() if s.slot}
    needed = {rule.slot for rule in kb.rules()} | {"credential", "purpose", "level"}
    for slot in sorted(needed - asked):
        report(file, "states", slot, "a rule needs this slot but no state asks it")
    for key in ENGINE_PROMPTS:
        if key not in prompts:
            report(file, "prompts", key, "the engine asks with this prompt")
    for key in REPLY_KEYS:
        if key not in replies:
            report("replies.yaml", key, None, "missing key")
    if problems:
        raise KnowledgeError(problems)
    return Dialog(str(data.get("dialog")), str(start), MappingProxyType(states),
                  freeze(prompts), freeze(replies), tuple(data.get("way_out") or ()))


def _check_graph(states: Mapping[str, State], start: Any, report: Any) -> None:
    if start not in states:
        return
    seen, todo = {start}, [start]
    while todo:
        for target in states[todo.pop()].next:
            if target in states and target not in seen:
                seen.add(target)
                todo.append(target)
    for sid in states:
        if sid not in seen:
            report(f"states.{sid}", sid, "unreachable from the start state")
        if not states[sid].next:
            report(f"states.{sid}.next", None, "dead end: no transition out")
