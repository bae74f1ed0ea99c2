"""`wgan experiment`: one experiment's files, the combined report, and a clean error for an unknown name."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from wgan.cli import main
from wgan.errors import Stopped, WganError
from wgan.experiments import EXPERIMENTS, ByHand, Claim, ExperimentResult, ImageData, ratio
from wgan.experiments.report import write_report


def test_experiment_command_writes_figure_numbers_and_page(tmp_path, capsys):
    assert main(["experiment", "optimal-critic", "--quick", "--out", str(tmp_path)]) == 0
    folder = tmp_path / "optimal-critic"
    assert (folder / "figure.png").read_bytes().startswith(b"\x89PNG")
    results = json.loads((folder / "results.json").read_text())
    assert results["name"] == "optimal-critic" and results["claims"]
    assert "| claim | measured | holds |" in (folder / "README.md").read_text()
    page = (tmp_path / "optimal-critic.md").read_text()
    assert "the discriminator of a minimax GAN saturates" in page and "(optimal-critic/figure.png)" in page
    assert f"    wgan experiment optimal-critic --quick --out {tmp_path}\n" in page  # the command that made it
    assert "holds" in capsys.readouterr().out


def test_report_has_one_row_per_claim_and_every_figure_and_a_page_per_experiment(tmp_path):
    results = [ExperimentResult("first", {"x": 1.0}, [Claim("a |theta| claim", "0.99", True)], b"\x89PNG",
                                '"A quoted claim." (Someone 2017, Sec. 1)'),
               ExperimentResult("second", {}, [Claim("b", "3", False, "Too short."), Claim("c", "4", True)],
                                b"\x89PNG", command="wgan experiment second --quick --out docs")]
    write_report(results, tmp_path)
    markdown = (tmp_path / "report.md").read_text()
    assert "## Where a claim does not hold\n\n- second: *b*. Too short.\n" in markdown
    assert markdown.count("\n| first |") + markdown.count("\n| second |") == 3
    assert "a \\|theta\\| claim" in markdown and "**no**" in markdown
    assert "first/figure.png" in markdown and "second/figure.png" in markdown
    # which size made the numbers (the report did not say --quick), with links to the pages and numbers
    assert ("[The page](second.md), [the numbers](second/results.json); made with `wgan experiment second --quick "
            "--out docs`") in markdown
    page = (tmp_path / "report.html").read_text()
    assert page.count("<tr><td>") == 3 and "second/figure.png" in page
    assert "<code>wgan experiment second --quick --out docs</code>" in page and "alt='second: the figure'" in page
    assert "<li>second: <em>b</em>. Too short.</li>" in page
    assert (tmp_path / "first" / "results.json").is_file()
    assert '> "A quoted claim." (Someone 2017, Sec. 1)' in (tmp_path / "first.md").read_text()
    assert "The paper's claim" not in (tmp_path / "second.md").read_text()  # no quote given, no empty section


def test_unknown_experiment_is_one_line_and_exit_2(capsys):
    assert main(["experiment", "figure-99"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("wgan: error: unknown experiment 'figure-99'") and len(error.splitlines()) == 1


def test_a_data_dir_that_is_not_a_folder_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["experiment", "no-batchnorm", "--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert "--data-dir" in error and "MNIST" in error and len(error.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("minutes", ["0", "inf"])  # inf ran, then failed as "max_minutes must be a finite number"
def test_minutes_that_are_not_a_positive_number_are_one_line_and_exit_2(tmp_path, capsys, minutes):
    (tmp_path / "mnist").mkdir()
    assert main(["experiment", "no-batchnorm", "--minutes", minutes, "--data-dir", str(tmp_path / "mnist"),
                 "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert f"--minutes must be a positive number, got {minutes}" in error and len(error.splitlines()) == 1
    assert [path.name for path in tmp_path.iterdir()] == ["mnist"]


def _mnist_files(folder: Path, prefixes: tuple[str, ...] = ("train", "t10k")) -> Path:
    """``folder`` with empty MNIST IDX files of the splits named by ``prefixes``: the checks find them, never
    read them."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix in prefixes:
        for kind in ("images-idx3", "labels-idx1"):
            (folder / f"{prefix}-{kind}-ubyte.gz").write_bytes(b"")
    return folder


@pytest.mark.parametrize("name", ["no-batchnorm", "meaningful-loss", "all"])
@pytest.mark.parametrize("prefixes, missing", [((), "no mnist train images file"),
                                               (("train",), "no mnist test images file")])  # the scorer's split
def test_a_data_dir_without_the_mnist_files_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch, name,
                                                                            prefixes, missing):
    # meaningful-loss trained its toy runs (minutes) before reading MNIST failed; all, after several experiments
    ran = [_stand_in(monkeypatch, each) for each in EXPERIMENTS]
    data_dir = _mnist_files(tmp_path / "mnist", prefixes)
    assert main(["experiment", name, "--data-dir", str(data_dir), "--runs", str(tmp_path / "runs"),
                 "--out", str(tmp_path / "out")]) == 2
    printed = capsys.readouterr()
    error = printed.err.strip()
    assert error.startswith(f"wgan: error: --data-dir: {missing} in '{data_dir}': looked for ")
    assert len(error.splitlines()) == 1 and "running" not in printed.out
    assert not any(ran) and sorted(path.name for path in tmp_path.iterdir()) == ["mnist"]  # no runs, no pages


def test_meaningful_loss_called_from_python_refuses_a_data_dir_without_mnist_before_its_toy_runs(tmp_path,
                                                                                                 monkeypatch):
    from wgan.experiments import meaningful_loss

    toy_runs = []
    monkeypatch.setattr(meaningful_loss, "_toy_history", lambda *arguments: toy_runs.append(arguments))
    with pytest.raises(WganError, match="no mnist train images file in"):
        EXPERIMENTS["meaningful-loss"](quick=False, data=ImageData(str(_mnist_files(tmp_path / "mnist", ()))))
    assert toy_runs == []


@pytest.mark.parametrize("runs", ["a-file", "a-file/inside", "/proc/forbidden"])
def test_a_runs_that_cannot_hold_the_mnist_runs_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch, runs):
    # a file was found when the first MNIST run started, as "out 'afile' is a file: ... (--out)", a flag not given
    (tmp_path / "a-file").write_text("not a folder")
    runs = runs if runs.startswith("/") else str(tmp_path / runs)
    ran = _stand_in(monkeypatch, "no-batchnorm")
    assert main(["experiment", "no-batchnorm", "--data-dir", str(_mnist_files(tmp_path / "mnist")), "--runs", runs,
                 "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("wgan: error: ") and len(error.splitlines()) == 1
    assert f"--runs '{runs}'" in error and error.endswith("for --runs") and "--out" not in error
    assert ran == [] and sorted(path.name for path in tmp_path.iterdir()) == ["a-file", "mnist"]


def test_an_empty_runs_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch):
    # the MNIST runs went into the working folder
    ran = _stand_in(monkeypatch, "no-batchnorm")
    assert main(["experiment", "no-batchnorm", "--data-dir", str(_mnist_files(tmp_path / "mnist")), "--runs", " ",
                 "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == ("wgan: error: --runs is empty: name the folder for the MNIST runs, "
                                               "e.g. --runs runs")
    assert ran == []


@pytest.mark.parametrize("flags, named", [(["parallel-lines", "--data-dir", "DIR"], "--data-dir has no effect on "
                                                                                    "parallel-lines"),
                                           (["no-batchnorm", "--runs", "old/runs"], "--runs has no effect without"),
                                           (["all", "--minutes", "30"], "--minutes has no effect without"),
                                           # the quick size trained on the digits, its page naming --data-dir
                                           (["no-batchnorm", "--quick", "--data-dir", "DIR"],
                                            "--data-dir has no effect with --quick")])
def test_a_flag_the_experiment_would_ignore_is_one_line_and_exit_2(tmp_path, capsys, flags, named):
    (tmp_path / "DIR").mkdir()
    flags = [str(tmp_path / "DIR") if flag == "DIR" else flag for flag in flags]
    assert main(["experiment", *flags, "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert named in error and len(error.splitlines()) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["DIR"]


@pytest.mark.parametrize("out", ["a-file", "a-file/inside", "/proc/forbidden"])
def test_an_out_that_cannot_hold_the_pages_is_one_line_and_exit_2(tmp_path, capsys, out, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    out = out if out.startswith("/") else str(tmp_path / out)
    ran = []
    monkeypatch.setitem(EXPERIMENTS, "optimal-critic", lambda **settings: ran.append(settings))
    assert main(["experiment", "optimal-critic", "--quick", "--out", out]) == 2
    assert ran == []  # refused before the run (/proc ran it for 40 s first: root may write anywhere, says os.access)
    error = capsys.readouterr().err.strip()
    assert error.startswith("wgan: error: ") and len(error.splitlines()) == 1
    assert "--out" in error or "cannot write" in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file"]


def test_an_empty_out_is_one_line_not_the_working_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # --out '' wrote the pages here
    assert main(["experiment", "optimal-critic", "--quick", "--out", ""]) == 2
    assert capsys.readouterr().err.strip() == ("wgan: error: --out is empty: name the folder for the pages, e.g. "
                                               "--out experiments")
    assert list(tmp_path.iterdir()) == []


def test_the_page_gives_the_command_that_made_it_with_the_mnist_options(tmp_path, monkeypatch):
    seen = {}

    def experiment(quick, seed, data):
        seen.update(data=data)
        return ExperimentResult("no-batchnorm", {}, [Claim("c", "1", True)], b"\x89PNG")

    monkeypatch.setitem(EXPERIMENTS, "no-batchnorm", experiment)
    _mnist_files(tmp_path / "mnist")
    assert main(["experiment", "no-batchnorm", "--out", str(tmp_path / "docs"), "--data-dir", str(tmp_path / "mnist"),
                 "--runs", "old/runs", "--minutes", "30"]) == 0
    assert seen["data"] == ImageData(str(tmp_path / "mnist"), Path("old/runs"), 30.0)
    page = (tmp_path / "docs" / "no-batchnorm.md").read_text()
    assert (f"    wgan experiment no-batchnorm --out {tmp_path / 'docs'} --data-dir {tmp_path / 'mnist'} "
            "--runs old/runs --minutes 30\n") in page
    assert ExperimentResult.read(tmp_path / "docs" / "no-batchnorm").command in page


def test_one_experiment_run_into_a_report_folder_updates_the_report(tmp_path):
    write_report([ExperimentResult("optimal-critic", {}, [Claim("stale claim", "0", False)], b"\x89PNG",
                                   command="wgan experiment optimal-critic --quick --out x"),
                  ExperimentResult("parallel-lines", {"x": [1.0]}, [Claim("kept claim", "1", True)], b"\x89PNG",
                                   '"Quoted." (Someone)')], tmp_path)
    assert main(["experiment", "optimal-critic", "--quick", "--out", str(tmp_path)]) == 0
    markdown = (tmp_path / "report.md").read_text()
    assert "stale claim" not in markdown and markdown.count("| optimal-critic |") >= 2
    assert "| parallel-lines | kept claim | 1 | yes |" in markdown
    assert markdown.index("## parallel-lines") < markdown.index("## optimal-critic")  # the registry's order
    kept = ExperimentResult.read(tmp_path / "parallel-lines")
    assert kept.numbers == {"x": [1.0]} and kept.paper == '"Quoted." (Someone)' and kept.claims[0].holds


def _measured_by_hand(folder: Path) -> None:
    """claims-by-hand.json (one claim standing in for the run's "stale claim", one added) and notes.md."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "claims-by-hand.json").write_text(json.dumps([
        {"replaces": "stale claim", "text": "stale claim, measured longer", "measured": "7", "holds": False,
         "why": "Longer runs say so."},
        {"text": "added by hand", "measured": "8", "holds": True}]))
    (folder / "notes.md").write_text("## Measured further\n\nSee [the figure](../images/long.png) and [x](#top), "
                                     "[y](<../my images/y.png>) and [z][ref].[^1]\n\n[ref]: ../images/z.png\n"
                                     "[^1]: Measured on 2 cores\n\n```\n[as written](../code.png)\n```\n")


def test_claims_and_notes_measured_by_hand_survive_every_rewrite_of_pages_and_report(tmp_path):
    _measured_by_hand(tmp_path / "parallel-lines")
    files = {path.name: path.read_bytes() for path in (tmp_path / "parallel-lines").iterdir()}
    write_report([ExperimentResult("parallel-lines", {}, [Claim("stale claim", "0", True), Claim("other", "1", True)],
                                   b"\x89PNG")], tmp_path)
    assert main(["experiment", "optimal-critic", "--quick", "--out", str(tmp_path)]) == 0  # rewrites the report
    page = (tmp_path / "parallel-lines.md").read_text()
    assert page.index("| stale claim, measured longer | 7 | **no** |") < page.index("| other | 1 | yes |") \
        < page.index("| added by hand | 8 | yes |") < page.index("## Measured further") < page.index("## The command")
    assert "| stale claim |" not in page and "- *stale claim, measured longer*. Longer runs say so." in page
    assert "[the figure](images/long.png)" in page and "[x](#top)" in page  # the links of notes.md from a folder up
    assert "[y](<my images/y.png>)" in page and "[ref]: images/z.png" in page  # angle brackets, a reference's
    assert "[^1]: Measured on 2 cores" in page and "[as written](../code.png)" in page  # a footnote, a code block
    readme = (tmp_path / "parallel-lines" / "README.md").read_text()
    assert "[the figure](../images/long.png)" in readme and "[x](#top)" in readme  # as notes.md, beside it
    markdown = (tmp_path / "report.md").read_text()
    assert "| parallel-lines | stale claim, measured longer | 7 | **no** |" in markdown
    assert "| parallel-lines | added by hand | 8 | yes |" in markdown
    assert "| parallel-lines | stale claim |" not in markdown
    assert "- parallel-lines: *stale claim, measured longer*. Longer runs say so." in markdown
    assert {name: (tmp_path / "parallel-lines" / name).read_bytes() for name in files} == files  # left as they were


def test_a_claim_by_hand_whose_claim_is_gone_is_shown_after_the_run_s(tmp_path):
    _measured_by_hand(tmp_path / "demo")
    ExperimentResult("demo", {}, [Claim("renamed claim", "0", True)], b"\x89PNG").write(tmp_path / "demo")
    page = (tmp_path / "demo.md").read_text()
    assert page.index("| renamed claim |") < page.index("| stale claim, measured longer |") \
        < page.index("| added by hand |")


def test_a_stop_signal_during_an_experiments_training_is_an_interrupt_not_a_checkpoint(tmp_path, capsys,
                                                                                       monkeypatch):
    # it said "the latest checkpoint is saved: continue with `wgan train --resume RUN_DIR`" (or a removed temporary
    # folder), and exited 75, of runs that an experiment does not keep
    def stopped(**settings):
        raise Stopped("SIGINT", 667, None)

    monkeypatch.setitem(EXPERIMENTS, "mode-collapse", stopped)
    assert main(["experiment", "mode-collapse", "--quick", "--out", str(tmp_path / "out")]) == 130
    assert capsys.readouterr().err.strip() == ("wgan experiment: interrupted before it wrote its pages; those "
                                               "written before are unchanged")
    assert not (tmp_path / "out").exists()


def test_all_writes_each_experiments_pages_as_it_ends(tmp_path, capsys, monkeypatch):
    # Ctrl-C in the last experiment lost the pages of every experiment before it
    def ended(name):
        return lambda **settings: ExperimentResult(name, {}, [Claim("c", "1", True)], b"\x89PNG")

    def interrupted(**settings):
        raise KeyboardInterrupt

    names = list(EXPERIMENTS)
    for name in names[:2]:
        monkeypatch.setitem(EXPERIMENTS, name, ended(name))
    for name in names[2:]:
        monkeypatch.setitem(EXPERIMENTS, name, interrupted)
    assert main(["experiment", "all", "--quick", "--out", str(tmp_path)]) == 130
    assert sorted(path.name for path in tmp_path.glob("*.md")) == sorted(f"{name}.md" for name in names[:2])
    assert "the experiments that ended have their new pages" in capsys.readouterr().err


def test_notes_that_are_not_utf8_are_one_line_and_another_experiments_bad_file_blocks_nothing(tmp_path, capsys,
                                                                                             monkeypatch):
    # a notes.md of Latin-1 bytes was a UnicodeDecodeError traceback; parallel-lines' bad claims stopped optimal-critic
    (tmp_path / "optimal-critic").mkdir()
    (tmp_path / "optimal-critic" / "notes.md").write_bytes(b"\xff\xfe caf\xe9")
    assert main(["experiment", "optimal-critic", "--quick", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().endswith("notes.md is not UTF-8 text (byte 0 cannot be read): save it as "
                                                    "UTF-8")
    (tmp_path / "optimal-critic" / "notes.md").unlink()
    (tmp_path / "parallel-lines").mkdir()
    (tmp_path / "parallel-lines" / "claims-by-hand.json").write_text("[1")
    monkeypatch.setitem(EXPERIMENTS, "optimal-critic", lambda **settings: ExperimentResult(
        "optimal-critic", {}, [Claim("c", "1", True)], b"\x89PNG"))
    assert main(["experiment", "optimal-critic", "--quick", "--out", str(tmp_path)]) == 0


@pytest.mark.parametrize("claims", ['[{"text": "no measurement"}]', '[{"text": "t", "measured": "m", "holds": "no"}]',
                                    '{"text": "t"}', "[1", "3"])
def test_claims_by_hand_that_are_not_claims_are_one_line_and_exit_2(tmp_path, capsys, claims):
    (tmp_path / "optimal-critic").mkdir()
    (tmp_path / "optimal-critic" / "claims-by-hand.json").write_text(claims)
    assert main(["experiment", "optimal-critic", "--quick", "--out", str(tmp_path)]) == 2
    printed = capsys.readouterr()
    error = printed.err.strip()
    assert "claims-by-hand.json is not a list of claims" in error and len(error.splitlines()) == 1
    assert "running" not in printed.out  # found before the experiment ran
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["claims-by-hand.json", "optimal-critic"]


def _stand_in(monkeypatch, name: str) -> list[str]:
    """Experiment ``name`` replaced by one that ends at once with one claim; the list records each run."""
    ran = []

    def run(**settings):
        ran.append(name)
        return ExperimentResult(name, {}, [Claim("c", "1", True)], b"\x89PNG")

    monkeypatch.setitem(EXPERIMENTS, name, run)
    return ran


@pytest.mark.parametrize("damage, named", [
    (lambda folder: (folder / "results.json").write_text('{"name": "parallel-lines", broken'), "Expecting"),
    (lambda folder: (folder / "results.json").write_text(json.dumps({"name": "parallel-lines", "numbers": {},
                                                                     "claims": []})), "no 'paper'"),
    (lambda folder: (folder / "figure.png").unlink(), "No such file or directory"),
])
def test_another_experiments_result_that_does_not_read_is_refused_before_the_run(tmp_path, capsys, monkeypatch,
                                                                                damage, named):
    # the report kept current after the run read it then: a JSONDecodeError or KeyError traceback after the run's
    # pages were written, or "cannot write .../figure.png" for a figure that was missing
    write_report([ExperimentResult("parallel-lines", {}, [Claim("c", "1", True)], b"\x89PNG")], tmp_path)
    damage(tmp_path / "parallel-lines")
    ran = _stand_in(monkeypatch, "optimal-critic")
    assert main(["experiment", "optimal-critic", "--quick", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"wgan: error: '{tmp_path / 'parallel-lines'}' does not hold an experiment's result "
                            "as wgan writes it (") and named in error and len(error.splitlines()) == 1
    assert ran == [] and not (tmp_path / "optimal-critic").exists()


@pytest.mark.parametrize("blocking", ["optimal-critic.md/", "optimal-critic"])
def test_a_folder_or_file_where_the_pages_go_is_refused_before_the_run(tmp_path, capsys, monkeypatch, blocking):
    # found after the run, naming a temporary file, with the folder written and the page not
    (tmp_path / blocking.rstrip("/")).mkdir() if blocking.endswith("/") else (tmp_path / blocking).write_text("x")
    ran = _stand_in(monkeypatch, "optimal-critic")
    assert main(["experiment", "optimal-critic", "--quick", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert f"'{tmp_path / blocking.rstrip('/')}' is a" in error and "move it away, or choose another --out" in error
    assert ran == [] and len(error.splitlines()) == 1


def test_a_quick_run_does_not_replace_full_size_results(tmp_path, capsys, monkeypatch):
    # it replaced them without a word (hours of training for the image experiments)
    ExperimentResult("optimal-critic", {}, [Claim("c", "1", True)], b"\x89PNG",
                     command="wgan experiment optimal-critic --out docs").write(tmp_path / "optimal-critic")
    ran = _stand_in(monkeypatch, "optimal-critic")
    assert main(["experiment", "optimal-critic", "--quick", "--out", str(tmp_path)]) == 2
    assert "holds optimal-critic's full-size results (made with `wgan experiment optimal-critic --out docs`)" \
        in capsys.readouterr().err and ran == []
    assert main(["experiment", "optimal-critic", "--out", str(tmp_path)]) == 0 and ran == ["optimal-critic"]
    quick = tmp_path / "quick"
    for _ in range(2):  # a quick run over a quick run's results
        assert main(["experiment", "optimal-critic", "--quick", "--out", str(quick)]) == 0
    assert ran == ["optimal-critic"] * 3


def test_the_command_on_a_page_is_quoted_for_the_shell(tmp_path, monkeypatch):
    _stand_in(monkeypatch, "optimal-critic")
    out = tmp_path / "my results"
    assert main(["experiment", "optimal-critic", "--quick", "--out", str(out)]) == 0
    assert f"    wgan experiment optimal-critic --quick --out '{out}'\n" in (out / "optimal-critic.md").read_text()


def test_all_stopped_midway_leaves_an_earlier_report_showing_the_new_pages(tmp_path, monkeypatch):
    # the earlier report showed the old numbers beside the new figures its links led to
    names = list(EXPERIMENTS)
    write_report([ExperimentResult(name, {}, [Claim("old claim", "0", False)], b"\x89PNG",
                                   command=f"wgan experiment {name} --quick --out x") for name in names], tmp_path)
    for name in names[:2]:
        _stand_in(monkeypatch, name)
    monkeypatch.setitem(EXPERIMENTS, names[2], lambda **settings: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(["experiment", "all", "--quick", "--out", str(tmp_path)]) == 130
    markdown = (tmp_path / "report.md").read_text()
    assert [f"| {name} | c | 1 | yes |" in markdown for name in names[:3]] == [True, True, False]
    assert f"| {names[2]} | old claim | 0 | **no** |" in markdown


def test_numbers_json_cannot_hold_are_written_as_text_and_a_ratio_over_zero_is_infinite(tmp_path):
    # allow_nan=False raised ValueError at the end of the run, and nothing was written; a gradient norm that
    # underflowed to 0 under a ratio was a ZeroDivisionError
    numbers = {"spearman": float("nan"), "decay": ratio(1e-3, 0.0), "curve": [1.0, float("-inf")]}
    ExperimentResult("x", numbers, [Claim("c", "nan", False)], b"\x89PNG").write(tmp_path / "x")
    assert json.loads((tmp_path / "x" / "results.json").read_text())["numbers"] == {
        "spearman": "nan", "decay": "inf", "curve": [1.0, "-inf"]}
    assert ratio(6.0, 3.0) == 2.0 and math.isnan(ratio(0.0, 0.0))


def test_claims_by_hand_that_are_not_a_list_of_objects_are_refused(tmp_path):
    # {} was taken for no claims, and ["text"] named Python's "'str' object has no attribute 'pop'"
    for content in ("{}", '["text"]'):
        (tmp_path / "claims-by-hand.json").write_text(content)
        with pytest.raises(WganError, match=r"is not a list of claims \(expected a JSON list of objects"):
            ByHand.read(tmp_path)
