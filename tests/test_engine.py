"""The engine's worker pool and its collector pause change how a check runs, never what it finds."""
import gc

from advisor.api import check
from advisor.config import Config
from advisor.engine import PARALLEL_THRESHOLD

from conftest import ROOT

TREES = [str(ROOT / "examples"), str(ROOT / "tests" / "projects"), str(ROOT / "tests" / "fixtures")]


def _summary(report) -> list:
    return [(f.path, f.line, f.column, f.code, f.message, f.fix is not None) for f in report.findings]


def test_a_pool_of_workers_finds_what_one_process_finds_and_leaves_the_collector_as_it_was():
    alone = check(TREES, Config(select=("ALL",)), jobs=1)
    assert alone.files_checked >= PARALLEL_THRESHOLD  # else the pool would not start
    thresholds = gc.get_threshold()
    assert gc.isenabled() and gc.get_freeze_count() == 0  # one process froze what it kept, then unfroze it
    pooled = check(TREES, Config(select=("ALL",)), jobs=2)
    assert _summary(pooled) == _summary(alone) and len(alone.findings) > 50
    assert [s.to_json() for s in pooled.settings] == [s.to_json() for s in alone.settings]
    assert gc.isenabled() and gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds


def test_a_collector_the_caller_disabled_or_froze_stays_so():
    gc.disable()
    try:
        check(TREES[:1], jobs=1)
        assert not gc.isenabled()
    finally:
        gc.enable()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        for jobs in (1, 2):
            check(TREES, jobs=jobs)
            # neither unfrozen (that empties it) nor grown by what the run keeps (tens of thousands of objects)
            assert 0 < gc.get_freeze_count() < frozen + 1000
    finally:
        gc.unfreeze()
