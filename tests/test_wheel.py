"""A wheel built from the repository (not the editable install) works: rules ship inside it."""
import subprocess
import sys

from conftest import ROOT


def test_built_wheel_checks_the_bundled_example(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"),
                    str(ROOT)],
                   check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("prec_advisor-*.whl"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True)
    code = (f"import sys; sys.path.insert(0, {str(target)!r})\n"
            "import advisor, advisor.catalogue as c\n"
            f"assert advisor.__file__.startswith({str(target)!r}), advisor.__file__\n"
            "assert (c.builtin_rules_dir() / 'ops.toml').is_file()\n"
            "from advisor.commands.cli import main\n"
            f"raise SystemExit(main(['check', {str(ROOT / 'examples' / 'pointcloud.py')!r}, '-q']))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert "PRC201" in result.stdout and "PRC101" in result.stdout
