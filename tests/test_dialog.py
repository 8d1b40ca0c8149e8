"""dialogs/ as a checked state graph, and the strict YAML loader under all data files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.dialog import DIALOG_DIR, Dialog, load_dialog
from bot.knowledge import Knowledge, KnowledgeError
from bot.protocol import SLOTS
from bot.yamlsafe import StrictLoader, YamlError, load_yaml

# --- the dialog as shipped -------------------------------------------------------------------


def test_the_dialog_asks_every_slot_a_rule_needs(kb: Knowledge, dialog: Dialog) -> None:
    asked = set(dialog.slot_order)
    assert {rule.slot for rule in kb.rules()} | {"credential", "level", "purpose"} <= asked
    assert asked <= set(SLOTS)
    assert len(dialog.slot_order) == len(asked), "one state per slot"


def test_the_dialog_refuses_a_transition_it_does_not_list(dialog: Dialog) -> None:
    assert dialog.move("idle", "answered") == "answered"
    with pytest.raises(ValueError):
        dialog.move("idle", "no_such_state")


# --- broken dialog directories -------------------------------------------------------------------


def broken_dialogs(tmp_path: Path, file: str, old: str | None, new: str | None) -> Path:
    target = tmp_path / "dialogs"
    shutil.copytree(DIALOG_DIR, target)
    path = target / file
    if old is None and new is None:
        path.unlink()
    elif old is None:
        path.write_text(str(new), encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
        assert old in text, f"the edit no longer applies to {file}: {old!r}"
        path.write_text(text.replace(old, str(new), 1), encoding="utf-8")
    return target


# (id, file, old, new, place the problem must name, value it must name)
BROKEN_DIALOGS = [
    ("unreachable-state", "eligibility.yaml", "  answered:\n",
     "  orphan: {next: [idle]}\n  answered:\n", "states.orphan", "orphan"),
    ("dead-end", "eligibility.yaml", "  answered:\n    next: *any", "  answered: {}",
     "states.answered", None),
    ("unknown-slot", "eligibility.yaml", "slot: at_firm, prompt: at_firm",
     "slot: at_frim, prompt: at_firm", "states.ask_at_firm.slot", "at_frim"),
    ("unknown-prompt", "eligibility.yaml", "prompt: job_match,", "prompt: job_mach,",
     "states.ask_job_match.prompt", "job_mach"),
    ("unknown-rule", "eligibility.yaml", "rule: note#4", "rule: note#9",
     "states.ask_at_firm.rule", "note#9"),
    ("unknown-next-state", "eligibility.yaml", "answered, idle]", "answered, idle, ask_nothing]",
     "states.idle.next", "ask_nothing"),
    ("unknown-start", "eligibility.yaml", "start: idle", "start: begin", "start", "begin"),
    ("unknown-state-key", "eligibility.yaml", "ask_level: {slot: level,",
     "ask_level: {colour: red, slot: level,", "states.ask_level.colour", "colour"),
    ("duplicate-key", "eligibility.yaml", "dialog: eligibility\n",
     "dialog: eligibility\ndialog: again\n", "line 10", None),
    ("missing-replies", "replies.yaml", None, None, "file", None),
    ("states-not-a-mapping", "eligibility.yaml", "states:\n", "states: [idle]\nold_states:\n",
     "states", None),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "place", "value"),
    [pytest.param(*case[1:], id=case[0]) for case in BROKEN_DIALOGS],
)
def test_broken_dialog_raises_knowledge_error_naming_the_problem(
    kb: Knowledge, tmp_path: Path, file: str, old: str | None, new: str | None, place: str,
    value: str | None,
) -> None:
    with pytest.raises(KnowledgeError) as caught:
        load_dialog(kb, broken_dialogs(tmp_path, file, old, new))
    problems = caught.value.problems
    named = [p for p in problems if Path(p.file).name == file and place in p.place
             and (value is None or p.value == value)]
    assert named, f"no problem names {file} at {place!r}: {[str(p) for p in problems]}"


@pytest.mark.parametrize("key", ["reset", "cancel", "not_understood", "answer_unclear"])
def test_a_missing_reply_wording_is_reported_at_load(
    kb: Knowledge, tmp_path: Path, key: str
) -> None:
    text = (DIALOG_DIR / "replies.yaml").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith(f"{key}:")]
    assert len(lines) == len(text.splitlines()) - 1
    directory = broken_dialogs(tmp_path, "replies.yaml", None, "".join(lines))
    with pytest.raises(KnowledgeError) as caught:
        load_dialog(kb, directory)
    assert any(key in (p.place, p.value) for p in caught.value.problems)


# --- the strict YAML loader ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"),
        ("010", "010"), ("0x1f", "0x1f"), ("6-18-01-11", "6-18-01-11"), ("1_000", "1_000"),
        ("2023-01-01", "2023-01-01"), ("1e3", "1e3"), (".inf", ".inf"), ("12:30", "12:30"),
        ("true", True), ("False", False), ("0", 0), ("12", 12), ("-3", -3), ("1.5", 1.5),
        ("null", None), ("~", None), ("", None), ("'yes'", "yes"),
    ],
)
def test_strict_loader_keeps_ambiguous_scalars_as_strings(
    tmp_path: Path, scalar: str, expected: object
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(f"value: {scalar}\n", encoding="utf-8")
    value = load_yaml(path)["value"]
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "text",
    ["a: 1\nb: 2\na: 3\n", "outer:\n  x: 1\n  x: 2\n", "- {n: 1, n: 2}\n"],
    ids=["top", "nested", "flow"],
)
def test_strict_loader_rejects_duplicate_keys_with_their_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(YamlError) as caught:
        load_yaml(path)
    assert caught.value.path == str(path)
    assert caught.value.place.startswith("line ")
    assert "duplicate" in caught.value.message


def test_strict_loader_leaves_the_global_loaders_alone() -> None:
    text = "a: yes\nb: 010\nc: on\nd: 1_000\n"
    expected = {"a": True, "b": 8, "c": True, "d": 1000}
    assert yaml.safe_load(text) == expected
    assert yaml.load(text, Loader=yaml.SafeLoader) == expected
    assert yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) == expected
    assert yaml.safe_load("a: 1\na: 2\n") == {"a": 2}
    assert StrictLoader is not yaml.SafeLoader


def test_strict_loader_refuses_python_tags(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("x: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(YamlError):
        load_yaml(path)
