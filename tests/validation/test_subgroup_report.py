"""The subgroup (fairness) report end to end: generated cohorts through the real lung-nodule model.

A fair cohort must not be flagged; the same cohort with the women's nodules made faint must
flag women on lesion sensitivity. Both share one analysis cache, so the planted run analyses
only the studies the failure changed (about 36 analyses in all).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from meddiag_desktop.cli import main
from meddiag_desktop.config import PROJECT_ROOT
from meddiag_desktop.core.subgroup_stats import Flag
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.validation.cases import discover_cases
from meddiag_desktop.validation.cohort import MANIFEST_NAME, CohortStudy, make_cohort
from meddiag_desktop.validation.cohort_source import demo_source
from meddiag_desktop.validation.runner import RegistryAnalyser, validate_cases
from meddiag_desktop.validation.subgroups import SubgroupReport, headers_from_index, subgroup_report

pytestmark = pytest.mark.slow  # about 36 model runs: ~70-90 s on 2 idle cores

SEED, N, FAILURE = 10, 24, "PatientSex=F"  # seed 10: 16 nodules in 12 women, enough to tell (>= 10)


@dataclass(frozen=True)
class Run:
    tmp: Path
    out: Path
    fair: list[CohortStudy]
    planted: list[CohortStudy]
    subgroups: SubgroupReport


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("subgroups")
    source = demo_source(tmp / "source-index.sqlite")
    fair = make_cohort(tmp / "fair", N, seed=SEED, sources=[source])
    planted = make_cohort(tmp / "planted", N, seed=SEED, sources=[source], planted_failure=FAILURE)
    registry = ModelRegistry(PROJECT_ROOT / "models", tmp / "user-models")
    analyser = RegistryAnalyser(registry, "lung-nodule-seg", threads=2)
    with SeriesIndex(tmp / "index.sqlite") as index:
        found = discover_cases([tmp / "fair"], index, manifest=tmp / "fair" / MANIFEST_NAME)
        report = validate_cases(found.cases, analyser, tmp / "out", notes=found.notes)
        subgroups = subgroup_report(report, headers_from_index(index, report))
    return Run(tmp, tmp / "out", fair, planted, subgroups)


def test_fair_cohort_is_not_flagged(run: Run) -> None:
    table = run.subgroups.table
    assert run.subgroups.scans == N
    overall = table.overall.estimates
    assert overall["sensitivity"].n == sum(len(s.lesions) for s in run.fair)
    assert overall["sensitivity"].value is not None and overall["sensitivity"].value >= 0.9  # measured: 1.00
    assert overall["auc"].value is not None and overall["auc"].value >= 0.9
    assert table.worse() == [], table.worse()
    female = {r.group: r for r in table.attribute_rows("sex")}["female"]
    assert female.flags["sensitivity"] is Flag.NONE and female.estimates["sensitivity"].n >= 10


def test_planted_failure_is_flagged_in_the_validate_report(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    planted = run.tmp / "planted"
    args = ["validate", str(planted), "--manifest", str(planted / MANIFEST_NAME), "--out", str(run.out)]
    assert main([*args, "--threads", "2"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"FLAG sex female: lesion sensitivity at 1 FP/scan 0\.\d\d \(.*WORSE by", printed), printed
    assert "FLAG sex male" not in printed
    data = json.loads((run.out / "report.json").read_text())
    changed = sum(s.faint for s in run.planted)
    assert sum(not scan["from_cache"] for scan in data["scans"]) == changed  # the rest came from the fair run
    sub = data["subgroups"]
    female = next(g for g in sub["subgroups"] if (g["attribute"], g["group"]) == ("sex", "female"))
    assert female["metrics"]["sensitivity"]["flag"] == "worse" and female["metrics"]["sensitivity"]["value"] < 0.2
    assert any(w.startswith("sex female: lesion sensitivity") for w in sub["flags"])
    assert sub["operating_fp_per_scan"] == 1.0 and sub["scans"] == N and len(sub["reliability"]) == 10
    page = (run.out / "report.html").read_text()
    assert "<h2>Subgroups (fairness)</h2>" in page and "Flagged: worse than overall" in page
    assert "sex female: lesion sensitivity" in page and "<h3>Calibration</h3>" in page
    assert all(s.startswith("data:image/png;base64,") for s in re.findall(r'src="([^"]*)"', page))
    assert "COHORT^" not in page and "COHORT-S" not in page and "COHORT-S" not in printed  # no patient name/ID
