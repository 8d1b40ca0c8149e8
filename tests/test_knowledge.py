"""knowledge/ as data: what the catalogues hold, and how the loader reports broken data."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.knowledge import (
    KNOWLEDGE_DIR,
    Knowledge,
    KnowledgeError,
    load_knowledge,
    normalise_name,
)
from bot.yamlsafe import load_yaml

ROOT = Path(__file__).resolve().parent.parent

ROW_COUNTS = {"professional": 56, "skilled": 63, "lingang": 20}
# Rows whose seed entry names two or more certificates (old and new names, or several trades).
MULTI_NAME_ROWS = [
    *(f"professional#{n}" for n in (6, 7, 12, 15, 18, 27, 56)),
    "skilled#36",
    "skilled#62",
]


def rows_of(kb: Knowledge, catalogue: str) -> list:
    return list(kb.catalogues[catalogue].rows)


# --- the catalogues as shipped ---------------------------------------------------------------


@pytest.mark.parametrize(("catalogue", "count"), ROW_COUNTS.items())
def test_each_catalogue_has_the_seed_row_count(kb: Knowledge, catalogue: str, count: int) -> None:
    assert len(kb.catalogues[catalogue].rows) == count
    assert sum(row.catalogue == catalogue for row in kb.rows.values()) == count


@pytest.mark.parametrize(("catalogue", "count"), ROW_COUNTS.items())
def test_every_seed_row_number_is_in_the_file_exactly_once(catalogue: str, count: int) -> None:
    raw = load_yaml(KNOWLEDGE_DIR / f"{catalogue}.yaml")
    numbers = Counter(row["n"] for row in raw["rows"])
    assert numbers == Counter(range(1, count + 1))


def test_lingang_codes_are_occupation_codes_and_unique(kb: Knowledge) -> None:
    codes = [row.code for row in rows_of(kb, "lingang")]
    assert all(isinstance(c, str) and re.fullmatch(r"\d-\d\d-\d\d-\d\d", c) for c in codes), codes
    assert len(set(codes)) == len(codes)


def test_no_ocr_artefacts_in_any_name_or_title(kb: Knowledge) -> None:
    texts = [(row.id, t) for row in kb.rows.values() for t in (*row.names, *row.titles)]
    bad = [(row_id, t) for row_id, t in texts if re.search(r"[帅约\s]", t)]
    assert bad == []


def test_ocr_fixes_of_the_seed_are_in_place(kb: Knowledge) -> None:
    assert kb.rows["professional#13"].titles == ("主管药师", "主管中药师")
    assert kb.rows["professional#13"].names[0].startswith("执业药师")
    assert kb.rows["professional#55"].titles == ()
    assert kb.rows["professional#56"].titles == ()


@pytest.mark.parametrize("row_id", MULTI_NAME_ROWS)
def test_every_name_of_a_multi_name_row_loads_onto_that_one_row(
    kb: Knowledge, row_id: str
) -> None:
    row = kb.rows[row_id]
    assert len(row.names) >= 2
    for name in row.names:
        assert kb.names[normalise_name(name)] == row_id, name
    owners = {r.id for r in kb.rows.values() for n in r.names if n in row.names}
    assert owners == {row_id}


def test_known_two_name_rows_hold_both_names(kb: Knowledge) -> None:
    assert {"法律职业资格", "执业律师"} <= set(kb.rows["professional#56"].names)
    assert {"金属热处理工", "热处理工"} <= set(kb.rows["skilled#36"].names)
    assert len(kb.rows["skilled#62"].names) == 3


def test_a_trade_on_two_lists_is_the_skilled_row_with_its_lingang_twin(kb: Knowledge) -> None:
    assert "飞机外场调试与维护工" in kb.rows["skilled#22"].names
    assert "飞机外场调试与维护工" in kb.rows["lingang#11"].names
    assert kb.names[normalise_name("飞机外场调试与维护工")] == "skilled#22"


def test_every_rule_names_a_note_slot_and_reason_of_the_protocol(kb: Knowledge) -> None:
    from bot.protocol import REASONS, SLOTS

    rules = list(kb.rules())
    assert {rule.note for rule in rules} == {f"note#{i}" for i in range(1, 7)}
    assert all(rule.slot in SLOTS and rule.reason in REASONS for rule in rules)


# --- broken knowledge directories --------------------------------------------------------------


def broken_copy(tmp_path: Path, edits: list[tuple[str, str | None, str | None]]) -> Path:
    """knowledge/ copied to tmp_path with ``(file, old, new)`` edits applied.

    ``old`` None replaces the whole file with ``new``; both None delete the file.
    """
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    for file, old, new in edits:
        path = target / file
        if old is None and new is None:
            path.unlink()
        elif old is None:
            path.write_text(str(new), encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
            assert text.count(old) >= 1, f"the edit no longer applies to {file}: {old!r}"
            path.write_text(text.replace(old, str(new), 1), encoding="utf-8")
    return target


ROW_5 = "  - {n: 5, names: [房地产估价师], titles: [经济师]}\n"
# (id, file, old, new, file the problem must name, text its place must contain)
BROKEN_KNOWLEDGE = [
    ("duplicate-key", "professional.yaml", "{n: 2, names:", "{n: 2, n: 2, names:",
     "professional.yaml", "line 11"),
    ("unknown-field", "professional.yaml", "{n: 1, names:", "{n: 1, colour: red, names:",
     "professional.yaml", "rows[0].colour"),
    ("alias-of-unknown-row", "aliases.yaml", "aliases:\n", "aliases:\n  professional#99: [某证]\n",
     "aliases.yaml", "professional#99"),
    ("rule-with-unknown-slot", "notes.yaml", "slot: at_firm", "slot: at_frim",
     "notes.yaml", "notes[3].rules[0].slot"),
    ("rule-with-unknown-check", "notes.yaml", "check: obtained_working_in_shanghai",
     "check: obtained_in_shanghai", "notes.yaml", "notes[4].rules[0].check"),
    ("rule-with-unknown-row", "notes.yaml", "rows: [professional#55, professional#56]",
     "rows: [professional#55, professional#99]", "notes.yaml", "notes[3].rules[0].rows"),
    ("rule-with-unknown-grade", "notes.yaml", "grades: [senior, skill1]",
     "grades: [senior, skill9]", "notes.yaml", "notes[4].rules[0].grades"),
    ("missing-row-number", "professional.yaml", ROW_5, "", "professional.yaml", "rows"),
    ("row-number-twice", "professional.yaml", ROW_5,
     ROW_5 + "  - {n: 5, names: [某某估价师], titles: [经济师]}\n", "professional.yaml", ".n"),
    ("alias-claimed-by-two-rows", "aliases.yaml", "professional#2: [核安全工程师",
     "professional#2: [一建, 核安全工程师", "aliases.yaml", "一建"),
    ("near-miss-claims-a-row-name", "near_misses.yaml", "names: [二级建造师,",
     "names: [一级建造师, 二级建造师,", "near_misses.yaml", "一级建造师"),
    ("ocr-artefact", "skilled.yaml", "[半导体芯片制造工]", "[半导体芯片制造帅]",
     "skilled.yaml", "rows[0]"),
    ("bad-occupation-code", "lingang.yaml", 'code: "4-02-06-03"', "code: 40206",
     "lingang.yaml", "rows[0].code"),
    ("row-number-not-a-number", "skilled.yaml", "{n: 1, names", "{n: '1', names",
     "skilled.yaml", "rows[0].n"),
    ("unknown-background-fact", "notes.yaml", "background: [bg#talent]",
     "background: [bg#nothing]", "notes.yaml", "purposes.talent.background"),
    ("yaml-syntax-error", "lingang.yaml", "rows:", "rows: [\n", "lingang.yaml", "line "),
    ("not-utf8", "lexicon.yaml", None, "\udcff", "lexicon.yaml", "file"),
    ("missing-file", "titles.yaml", None, None, "titles.yaml", "file"),
    # wrong shapes: a list where a mapping belongs, a mapping where a list belongs
    ("titles-not-a-mapping", "titles.yaml", None, "titles: [工程师]\n", "titles.yaml", "titles"),
    ("near-misses-not-a-list", "near_misses.yaml", None, "near_misses: {二建: x}\n",
     "near_misses.yaml", "near_misses"),
    ("points-not-a-mapping", "background.yaml", "points_by_grade:\n",
     "points_by_grade: [100]\nold_points:\n", "background.yaml", "points_by_grade"),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "problem_file", "place"),
    [pytest.param(*case[1:], id=case[0]) for case in BROKEN_KNOWLEDGE],
)
def test_broken_knowledge_raises_knowledge_error_naming_file_and_place(
    tmp_path: Path, file: str, old: str | None, new: str | None, problem_file: str, place: str
) -> None:
    if new == "\udcff":  # bytes that are not UTF-8
        directory = broken_copy(tmp_path, [])
        (directory / file).write_bytes(b"\xff\xfe\x00 not utf-8")
    else:
        directory = broken_copy(tmp_path, [(file, old, new)])
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(directory)
    problems = caught.value.problems
    assert problems, "a KnowledgeError must list its problems"
    named = [p for p in problems if Path(p.file).name == problem_file and place in p.place]
    assert named, f"no problem names {problem_file} at {place!r}: {[str(p) for p in problems]}"
    assert str(named[0]) in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    directory = broken_copy(tmp_path, [
        ("professional.yaml", "{n: 1, names:", "{n: 1, colour: red, names:"),
        ("notes.yaml", "slot: at_firm", "slot: at_frim"),
        ("aliases.yaml", "aliases:\n", "aliases:\n  skilled#99: [某工]\n"),
    ])
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(directory)
    files = {Path(p.file).name for p in caught.value.problems}
    assert {"professional.yaml", "notes.yaml", "aliases.yaml"} <= files


def test_the_shipped_knowledge_loads_from_a_copy(tmp_path: Path) -> None:
    kb = load_knowledge(broken_copy(tmp_path, []))
    assert {key: len(cat.rows) for key, cat in kb.catalogues.items()} == ROW_COUNTS


# --- python -m bot check -------------------------------------------------------------------------

needs_check = pytest.mark.skipif(not (ROOT / "bot" / "check.py").exists(),
                                 reason="bot/check.py not written yet")


@needs_check
def test_check_command_passes_with_a_one_line_summary() -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].strip()


@needs_check
def test_check_command_lists_every_problem_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot import check

    directory = broken_copy(tmp_path, [
        ("professional.yaml", "{n: 1, names:", "{n: 1, colour: red, names:"),
        ("notes.yaml", "check: obtained_working_in_shanghai", "check: obtained_in_shanghai"),
    ])
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(directory)
    monkeypatch.setattr(check, "load_knowledge", lambda: load_knowledge(directory))
    status = check.main([])
    out = capsys.readouterr()
    assert status != 0
    for problem in caught.value.problems:
        assert str(problem) in out.out + out.err


# --- one name, one meaning: python -m bot check names both places -------------------------------

# (id, file, old, new, the two places the problem must name)
CLAIMED_TWICE = [
    ("alias-of-two-rows", "aliases.yaml", "professional#2: [核安全工程师",
     "professional#2: [一建, 核安全工程师", ("aliases.professional#2", "aliases.professional#8")),
    ("alias-also-a-near-miss", "aliases.yaml", "professional#8: [一建,",
     "professional#8: [二建, 一建,", ("aliases.professional#8", "near_misses.yaml")),
    ("near-miss-also-an-alias", "near_misses.yaml", "names: [二级建造师,",
     "names: [一建证书, 二级建造师,", ("near_misses[0].names", "aliases.professional#8")),
    ("ambiguous-name-also-an-alias", "aliases.yaml", "names: [评估师, 注册评估师,",
     "names: [评估师, 资产评估, 注册评估师,",
     ("ambiguous.评估师.names", "aliases.professional#23")),
    ("title-also-a-near-miss", "titles.yaml", "other: [中级职称, 讲师,",
     "other: [中级职称, 助理讲师, 讲师,", ("titles.title#intermediate.other", "near_misses")),
]


@pytest.mark.parametrize(("file", "old", "new", "places"),
                         [pytest.param(*case[1:], id=case[0]) for case in CLAIMED_TWICE])
def test_a_name_claimed_twice_is_rejected_naming_both_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    file: str, old: str, new: str, places: tuple[str, str],
) -> None:
    from bot import check

    directory = broken_copy(tmp_path, [(file, old, new)])
    monkeypatch.setattr(check, "load_knowledge", lambda: load_knowledge(directory))
    assert check.main([]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if "claimed" in line]
    assert len(lines) == 1, lines
    assert all(place in lines[0] for place in places), lines[0]


BROKEN_NAMES = [
    ("ambiguous-label-of-another-row", "aliases.yaml", "{房地产估价师: professional#5,",
     "{房地产估价师: professional#6,", "ambiguous.评估师.candidates.房地产估价师"),
    ("ambiguous-label-not-a-name", "aliases.yaml", "监理员: near}", "某某员: near}",
     "ambiguous.监理.candidates.某某员"),
    ("ambiguous-of-one-candidate", "aliases.yaml",
     "candidates: {初级药师: near, 执业药师: professional#13}",
     "candidates: {执业药师: professional#13}", "ambiguous.药剂师.candidates"),
    ("ambiguous-of-unknown-row", "aliases.yaml", "矿业权评估师: professional#53}",
     "矿业权评估师: professional#99}", "ambiguous.评估师.candidates.矿业权评估师"),
    ("job-word-that-is-a-name", "titles.yaml", "jobs: [翻译,", "jobs: [讲师, 翻译,", "jobs[讲师]"),
    ("senior-not-a-list", "professional.yaml", "senior: [一级, 高级]", "senior: 一级",
     "rows[32].senior"),
]


@pytest.mark.parametrize(("file", "old", "new", "place"),
                         [pytest.param(*case[1:], id=case[0]) for case in BROKEN_NAMES])
def test_broken_name_data_is_reported_at_its_place(
    tmp_path: Path, file: str, old: str, new: str, place: str
) -> None:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(broken_copy(tmp_path, [(file, old, new)]))
    assert any(place in p.place for p in caught.value.problems), \
        [str(p) for p in caught.value.problems]


def test_the_shipped_names_have_one_meaning_each(kb: Knowledge) -> None:
    assert kb.names[normalise_name("评估师")] == "ambiguous:评估师"
    assert set(kb.ambiguous) >= {"评估师", "监理", "药剂师"}
    assert kb.rows["professional#33"].levels[0] == "二级"
    assert not {normalise_name(w) for w in kb.job_words} & set(kb.names)


def test_check_reports_a_lexicon_sub_key_the_engine_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """A sub-key the loader does not list (social_insurance.denied) is still reported, as one
    line, instead of a traceback when a channel builds the engine."""
    from bot import check

    directory = broken_copy(tmp_path, [("lexicon.yaml", "  denied: [", "  refused: [")])
    monkeypatch.setattr(check, "load_knowledge", lambda: load_knowledge(directory))
    assert check.main([]) == 1
    err = capsys.readouterr().err
    assert "denied" in err and "engine cannot be built" in err
