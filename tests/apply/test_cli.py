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


def test_a_translation_setting_is_taken_recorded_and_kept_across_resumes(stargan_checkpoint, tmp_path) -> None:
    import json

    write_tiff_folder(tmp_path / "in", 2)
    common = ["translate", "--checkpoint", str(stargan_checkpoint), "--images", str(tmp_path / "in"),
              "--target", "drug@1", "--out", str(tmp_path / "out"), "-q"]
    result = invoke(*common, "--setting", "translate_batch_size=2")
    assert result.exit_code == 0, result.output
    job = json.loads((tmp_path / "out" / ".phenbench-job.json").read_text())
    assert job["settings"] == {"translate_batch_size": 2}  # read back from the loaded model's config
    assert invoke(*common, "--setting", "translate_batch_size=2").exit_code == 0  # the same job resumes
    dropped = invoke(*common)  # the same folder without the setting is another job
    assert dropped.exit_code == 2 and "settings {'translate_batch_size': 2} there, None now" in dropped.output
    trained = invoke(*common, "--setting", "generator_filters=8")
    assert trained.exit_code == 2 and trained.output.strip().count("\n") == 0
    assert "was trained with generator_filters=4; a loaded model takes new translation settings only " \
           "(translate_batch_size)" in trained.output
    malformed = invoke(*common, "--setting", "translate_batch_size")
    assert malformed.exit_code == 2 and "is not KEY=VALUE" in malformed.output
