"""The per-file cache: unchanged files are not scanned again, an edited one is, the project-wide
judgement still sees every file, and a cache entry can never break (or take over) a run."""
import json
import os
import shutil

from conftest import ROOT, run_cli

GNN = ROOT / "tests" / "projects" / "gnn"


def check_json(cwd, cache, *extra):
    result = run_cli("check", ".", "--select", "PRC2", "--format", "json", *extra, cwd=cwd,
                     env={**os.environ, "PREC_ADVISOR_CACHE_DIR": str(cache)})
    assert result.returncode in (0, 1), result.stderr
    return [(f["path"], f["line"], f["code"]) for f in json.loads(result.stdout)["findings"]]


def entries(cache):
    return sorted(p for p in cache.rglob("*.json")) if cache.exists() else []


def entry_paths(paths):
    """The checked file each entry holds (the facts' path)."""
    paths = [json.loads(p.read_text())["result"]["facts"] for p in paths]
    return sorted(next(v for k, v in facts.items() if k == "path") for facts in paths)


def test_second_run_reads_entries_and_an_edit_rescans_that_file_only(tmp_path):
    project, cache = tmp_path / "gnn", tmp_path / "cache"
    shutil.copytree(GNN, project)
    first = check_json(project, cache)
    assert ("model.py", 28, "PRC201") in first
    stored = entries(cache)
    assert {"model.py", "mylib/ops.py", "mylib/__init__.py"} <= set(entry_paths(stored))
    assert check_json(project, cache) == first
    assert entries(cache) == stored  # nothing new: every file came from the cache
    ops = project / "mylib" / "ops.py"  # the helper now accumulates in fp32: the caller's finding must go
    ops.write_text(ops.read_text().replace("ones = x.new_ones(edge_index.shape[1])",
                                           "ones = torch.ones(edge_index.shape[1])"))
    second = check_json(project, cache)
    new = entry_paths(sorted(set(entries(cache)) - set(stored)))
    assert "mylib/ops.py" in new and "model.py" not in new  # the edited file is scanned again, not its caller
    assert ("model.py", 28, "PRC201") not in second  # judged with model.py's cached facts
    assert not [f for f in second if f[0] == "mylib/ops.py"]  # its one caller passes fp32: nothing to report


def test_no_cache_writes_nothing(tmp_path):
    cache = tmp_path / "cache"
    check_json(GNN, cache, "--no-cache")
    assert entries(cache) == []


def test_corrupt_and_planted_entries_are_ignored(tmp_path):
    cache = tmp_path / "cache"
    expected = check_json(GNN, cache)
    stored = entries(cache)
    stored[0].write_text("{not json")
    stored[1].write_bytes(b"\xff\xfe\x00")
    planted = {"key": "x", "result": {"facts": {"$": "os.system", "command": "touch " + str(tmp_path / "owned")}}}
    stored[2].write_text(json.dumps(planted))
    assert check_json(GNN, cache) == expected
    assert not (tmp_path / "owned").exists()
    for path in stored:  # a planted entry under the right key names a type outside the data classes
        data = {"key": path.parent.name + path.stem, "result": {"facts": {"$": "Popen", "args": ["true"]}}}
        path.write_text(json.dumps(data))
    assert check_json(GNN, cache) == expected


def _age(path, days):
    old = path.stat().st_mtime - days * 24 * 3600
    os.utime(path, (old, old))


def test_the_cache_forgets_other_builds_and_entries_left_unused(tmp_path):
    """An edit of the tool or of the rules starts a new build folder; an edited file leaves its old
    entry behind: neither may grow the cache forever."""
    cache = tmp_path / "cache"
    check_json(GNN, cache)
    (build,) = [p for p in cache.iterdir() if p.is_dir()]
    stale_build, recent_build = cache / "0123456789abcdef", cache / "fedcba9876543210"
    for folder in (stale_build, recent_build):
        (folder / "ab").mkdir(parents=True)
        (folder / "ab" / "entry.json").write_text("{}")
        (folder / ".last-used").touch()
    _age(stale_build / ".last-used", 2)
    left_behind = build / "ab" / "left-behind.json"  # the entry of a file since edited
    left_behind.parent.mkdir(exist_ok=True)
    left_behind.write_text("{}")
    _age(left_behind, 31)
    check_json(GNN, cache)  # within a day of the first run: nothing is pruned yet
    assert stale_build.exists() and left_behind.exists()
    _age(build / ".last-used", 2)
    kept = entries(build)
    assert check_json(GNN, cache)
    assert not stale_build.exists() and not left_behind.exists()
    assert recent_build.exists() and set(entries(build)) == set(kept) - {left_behind}
