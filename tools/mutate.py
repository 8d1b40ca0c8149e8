"""A mutation check of the core: does a one-line break of each promise make a test fail?

Not part of the package, not run in CI: a report run on demand (stdlib only).

    .venv/bin/python tools/mutate.py              # every mutation (a few minutes)
    .venv/bin/python tools/mutate.py --only NAME  # one of them (--list names them)

The work tree is copied once to a temporary directory (without .venv, .git and caches;
``../shared`` is linked beside it, so the tests that read it still run). The listed tests run
once unmutated first: any that fail then (work in progress elsewhere) are left out of every
mutant's run and named in the report. For each named mutation, the exact old text is replaced
by the new text in the copy, its tests run there (``pytest -x``, with a time limit), the result
is recorded (killed: a test failed; SURVIVED: all passed; error: the old text is not found once,
or the run timed out) and the file is restored. Prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ("tests", "--ignore=tests/channels")  # the core suite: everything but the channels
TIMEOUT = 600  # seconds one pytest run may take


@dataclass(frozen=True)
class Mutation:
    """One named break: in ``path``, ``old`` (exactly once) becomes ``new``."""

    name: str
    path: str
    old: str
    new: str
    why: str
    tests: tuple[str, ...] = CORE


MUTATIONS = (
    Mutation("level_guard", "bot/matching.py",
             "                continue  # a level the message contradicts: never a fuzzy match",
             "                pass  # mutated",
             "a fuzzy match may cross a stated level (注册二级消防工程师 → row 1)"),
    Mutation("level_conflict", "bot/matching.py",
             "        if level and row.levels and level not in row.levels:",
             "        if False:",
             "a level the row does not list is taken as the row (二级注册结构工程师 → row 34)"),
    Mutation("asked_record", "bot/turns.py",
             '        conv["asked"] = [*conv["asked"], slot]',
             '        conv["asked"] = list(conv["asked"])',
             "the engine forgets which slots it asked (社保 asked again)"),
    Mutation("never_ask_twice", "bot/engine.py",
             "            if slot in conv[\"asked\"]:\n                facts[slot] = UNKNOWN",
             "            if False:\n                facts[slot] = UNKNOWN",
             "a slot listed as asked but without an answer is asked again instead of left open"),
    Mutation("engine_raises_on_job_match", "bot/engine.py",
             "            value = u.facts.get(asking)\n",
             "            value = u.facts.get(asking)\n"
             "            if asking == 'job_match':\n"
             "                raise RuntimeError('mutant')\n",
             "the engine fails on every 对口 answer (the assistant apologises, logs an error)",
             ("tests/test_properties.py",)),
    Mutation("note3_months", "bot/insurance_check.py",
             "    if found >= months:",
             "    if found > months:",
             "exactly the required months (36 of 48, 6 of 12) no longer pass note 3"),
    Mutation("note3_multiple", "bot/insurance_check.py",
             "s[1] + 1e-9 >= multiple",
             "s[1] > multiple + 1e-9",
             "exactly the required multiple (1.3, 1.0) no longer counts for note 3"),
    Mutation("note2_degree", "bot/rules.py",
             '"engineering_only": lambda credential: credential.engineering_only,',
             '"engineering_only": lambda credential: False,',
             "note 2's 理工 degree is never asked or checked for engineering titles"),
    Mutation("note4_firm", "knowledge/notes.yaml",
             "rows: [professional#55, professional#56]",
             "rows: [professional#56]",
             "注册会计师 may settle without working at a firm (note 4)"),
    Mutation("note5_where", "bot/rules.py",
             '"elsewhere_before": FAIL, "elsewhere": FAIL, UNKNOWN: OPEN}',
             '"elsewhere_before": PASS, "elsewhere": FAIL, UNKNOWN: OPEN}',
             "a senior title obtained before working in Shanghai passes note 5 for 居转户"),
    Mutation("note6_where", "bot/rules.py",
             '"other_province_while_shanghai": FAIL, UNKNOWN: OPEN}',
             '"other_province_while_shanghai": PASS, UNKNOWN: OPEN}',
             "a certificate from another province while working in Shanghai passes note 6"),
    Mutation("whole_words", "bot/text.py",
             "        return bool(self.matches(said))",
             "        return any(word in said.text for word in self.words)",
             "phrases are found inside other words (计分 in 会计分录, 非 in 非常)"),
    Mutation("last_level_reading", "bot/understand.py",
             "    return values[-1] if values else None",
             "    return values[0] if values else None",
             "the first of two levels in an answer wins (「初级,去年考了中级」 read as 初级)"),
    Mutation("last_level_match", "bot/naming.py",
             "list(level_words[-1:])",
             "list(level_words[:1])",
             "the certificate is matched with the first level said, not the last"),
    Mutation("clock", "bot/clock.py",
             '    value = (os.environ if environ is None else environ).get(ENV, "")',
             '    value = ""',
             "BOT_TODAY is ignored: dates count from the system date"),
    Mutation("message_id_dedupe", "bot/assistant.py",
             "                    kept = self.store.peek(message_key(person, message_id))",
             "                    kept = None",
             "a repeated message id is stepped again instead of getting its kept reply"),
    Mutation("retention_load", "bot/store.py",
             "            (key, self._now() - self._keep),",
             "            (key, 0.0),",
             "a conversation idle past retention is resumed before it is purged"),
    Mutation("retention_purge", "bot/store.py",
             '("conversations", "updated < ?", now - self._keep),',
             '("conversations", "updated < ?", 0.0),',
             "idle conversations are never deleted"),
    Mutation("forget_all_rows", "bot/store.py",
             '            for table in ("conversations", "replies", "inbox"):',
             '            for table in ("conversations",):',
             "forget leaves the kept replies and the inbox of the person behind"),
    Mutation("forget_command", "bot/assistant.py",
             "                if reply.forget:\n                    self.store.forget(person)",
             "                if False:\n                    self.store.forget(person)",
             "「删除我的数据」 says it deleted but keeps the rows"),
    Mutation("engine_error_keeps_state", "bot/assistant.py",
             "                return {**state, FAILURES: failures + 1}, Reply(",
             "                return None, Reply(",
             "an engine error costs the person their conversation"),
    Mutation("fuzzy_edits", "bot/matching.py",
             "    return 0 if length < 4 else 1 if length < 7 else 2",
             "    return 0 if length < 4 else 2",
             "a name of four to six characters matches with two typos (a different name)"),
    Mutation("cache_key_parser", "bot/datacache.py",
             "    from_parser = code_version(PARSER_SOURCES)",
             "    from_parser = code_version(())",
             "a changed parser is served a warm cache of the old parser's output",
             ("tests/test_datacache.py",)),
    Mutation("cache_key_content", "bot/datacache.py",
             "hashlib.blake2b(raw + from_parser, digest_size=16)",
             "hashlib.blake2b(path.name.encode() + from_parser, digest_size=16)",
             "an edited data file is served its old parse",
             ("tests/test_datacache.py",)),
)


def copy_tree(dest: Path) -> Path:
    """The work tree copied under ``dest`` (as ``dest/main``, with ``dest/shared`` linked)."""
    ignore = shutil.ignore_patterns(".venv", ".git", "artifacts", "__pycache__", ".*_cache",
                                    ".hypothesis", "*.egg-info", "*.db")
    main = dest / "main"
    shutil.copytree(ROOT, main, ignore=ignore)
    shared = ROOT.parent / "shared"
    if shared.exists():
        (dest / "shared").symlink_to(shared)
    return main


def _check_imports_from(tree: Path) -> None:
    """Fail loudly unless ``import bot`` in the copy finds the copy (not the editable install)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    found = subprocess.run([sys.executable, "-c", "import bot; print(bot.__file__)"], cwd=tree,
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    if not Path(found).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"mutate: the copy imports bot from {found}, not from {tree}")


def pytest(tree: Path, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``pytest -q ARGS`` in ``tree``, importing the copy's ``bot``.

    Raises:
        subprocess.TimeoutExpired: the run took longer than ``timeout`` seconds.
    """
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("LUOHU_CACHE_DIR", None)  # tests/conftest.py gives every run a fresh one
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--hypothesis-seed=0", *args],
        cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)


def baseline(tree: Path, tests: list[str], timeout: float) -> list[str]:
    """The tests that fail with no mutation (work in progress elsewhere): left out of every
    mutant's run, and listed in the report."""
    return _failures(pytest(tree, tests, timeout).stdout)


def run(mutation: Mutation, tree: Path, timeout: float,
        broken: list[str]) -> tuple[str, str, float]:
    """Apply ``mutation`` in ``tree``, run its tests, restore; (status, detail, seconds)."""
    target = tree / mutation.path
    original = target.read_text(encoding="utf-8")
    if original.count(mutation.old) != 1:
        return "error", f"old text found {original.count(mutation.old)} times", 0.0
    target.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
    started = time.monotonic()
    skip = [f"--deselect={node}" for node in broken]
    try:
        done = pytest(tree, ["-x", *skip, *mutation.tests], timeout)
    except subprocess.TimeoutExpired:
        return "error", f"timed out after {timeout:.0f} s", time.monotonic() - started
    finally:
        target.write_text(original, encoding="utf-8")
    took = time.monotonic() - started
    if done.returncode == 0:
        return "SURVIVED", "all tests passed", took
    if done.returncode == 1:
        return "killed", _first_failure(done.stdout), took
    return "error", f"pytest exit {done.returncode}: {_last_line(done.stdout + done.stderr)}", took


def _failures(output: str) -> list[str]:
    """The node ids of pytest's short summary lines (FAILED/ERROR tests/…)."""
    return [line.split(" - ")[0].split(" ", 1)[1] for line in output.splitlines()
            if line.startswith(("FAILED tests/", "ERROR tests/"))]


def _first_failure(output: str) -> str:
    failed = _failures(output)
    return failed[0] if failed else _last_line(output)


def _last_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1][:120] if lines else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this mutation (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--timeout", type=float, default=TIMEOUT,
                        help=f"seconds one test run may take (default {TIMEOUT})")
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:28} {m.path:24} {m.why}")
        return 0
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    unknown = set(args.only or ()) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error(f"unknown mutation(s): {', '.join(sorted(unknown))} (see --list)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="luohu-mutate-") as temp:
        tree = copy_tree(Path(temp))
        _check_imports_from(tree)
        tests = list(dict.fromkeys(t for m in chosen for t in m.tests))
        broken = baseline(tree, tests, args.timeout)
        for node in broken:
            print(f"baseline: {node} fails without a mutation (left out)", file=sys.stderr)
        for m in chosen:
            status, detail, took = run(m, tree, args.timeout, broken)
            rows.append((m.name, status, f"{took:.0f} s", detail))
            print(f"{m.name}: {status} ({took:.0f} s) {detail}", file=sys.stderr, flush=True)
    print("| mutation | status | time | first failing test / detail |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    counts = {s: sum(1 for r in rows if r[1] == s) for s in ("killed", "SURVIVED", "error")}
    print(f"\n{counts['killed']} killed, {counts['SURVIVED']} survived, {counts['error']} errors "
          f"of {len(rows)} mutations")
    if broken:
        print(f"{len(broken)} tests failed without any mutation and were left out "
              f"(first: {broken[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
