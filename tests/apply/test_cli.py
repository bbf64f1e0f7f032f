"""`phenbench translate` on the command line: a thin shell over translate_folder."""

from __future__ import annotations

from click.testing import CliRunner

from phenbench.cli import build_cli
from tests.apply.helpers import write_tiff_folder


def invoke(*arguments: str):
    return CliRunner().invoke(build_cli(), list(arguments))


def test_translate_writes_files_and_says_what_it_did(identity_checkpoint, tmp_path) -> None:
    write_tiff_folder(tmp_path / "in", 2)
    result = invoke("translate", "--checkpoint", str(identity_checkpoint), "--images", str(tmp_path / "in"),
                    "--target", "drug@1,drug@10", "--out", str(tmp_path / "out"), "-q")
    assert result.exit_code == 0, result.output
    assert "4 file(s) written, 0 already there, 2 image(s)" in result.output
    assert "normalisation: test" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".phenbench-job.json", "drug@1", "drug@10", "manifest.csv"]


def test_bad_input_is_one_line_and_exit_status_2(identity_checkpoint, tmp_path) -> None:
    write_tiff_folder(tmp_path / "in", 1, shape=(2, 16, 16))
    result = invoke("translate", "--checkpoint", str(identity_checkpoint), "--images", str(tmp_path / "in"),
                    "--target", "drug@1", "--out", str(tmp_path / "out"), "-q")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "has 2 channel(s)" in result.output
    (tmp_path / "nothing").mkdir()
    missing = invoke("translate", "--checkpoint", str(tmp_path / "nothing"), "--images", str(tmp_path / "in"),
                     "--target", "drug@1", "--out", str(tmp_path / "out"))
    assert missing.exit_code == 2 and "translator.json is missing" in missing.output
    both = invoke("translate", "--checkpoint", str(identity_checkpoint), "--images", str(tmp_path / "in"),
                  "--target", "drug@1", "--targets", "all-doses", "drug", "--out", str(tmp_path / "out"))
    assert both.exit_code == 2 and "not both" in both.output


def test_the_command_is_registered_and_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = ("import sys; from phenbench.cli import build_cli; cli = build_cli(); "
            "print('translate' in cli.commands, "
            "sorted(m for m in ('numpy', 'torch', 'accelerate', 'tifffile', 'PIL') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "True []", done.stdout + done.stderr
