"""The persona sets through the real JSON Lines protocol, as the team's simulator drives them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SIMULATOR = ROOT.parent / "shared" / "eval" / "simulate.py"
SETS = [ROOT.parent / "shared" / "eval" / "dev.yaml",
        *sorted((ROOT / "tests" / "personas").glob("*.yaml"))]


@pytest.mark.skipif(not SIMULATOR.exists(), reason="../shared/eval/simulate.py is not here")
@pytest.mark.parametrize("cases", [p for p in SETS if p.exists()], ids=lambda p: p.name)
def test_every_persona_passes_without_a_redundant_question(cases: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, str(SIMULATOR), str(cases), "--json", str(report),
         "--bot", f"{sys.executable} -m bot chat --jsonl"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    metrics = json.loads(report.read_text(encoding="utf-8"))["metrics"]
    assert metrics["redundant_questions"] == 0
    assert metrics["credential_accuracy"] in (None, 1.0)
