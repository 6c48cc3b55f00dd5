"""``sgdnoise reproduce --paper``: a table of the paper on stand-ins writes its page; without the
data it says what is missing and where to put it, before any work."""

import pandas as pd

from sgdnoise.cli import main


def test_paper_table_without_its_data_lists_what_is_missing(tmp_path, capsys):
    out = tmp_path / "t1"
    assert main(["reproduce", "--paper", "table1", "--data-root", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cifar" in err.lower() and "--stand-in" in err
    assert not out.exists()  # nothing written


def test_paper_table_on_stand_ins_writes_its_report(tmp_path):
    out = tmp_path / "t2"
    assert main(["reproduce", "--paper", "table2", "--stand-in", "--out", str(out)]) == 0
    table = pd.read_csv(out / "paper_table" / "table.csv")
    assert len(table) == 2 and set(table["batch_size"]) == {8, 32}  # the paper's two batch sizes on BERT
    page = (out / "index.html").read_text()
    assert "Battash et al. table2" in page and "stand-ins" in page


def test_stand_in_without_paper_is_refused(tmp_path, capsys):
    assert main(["reproduce", "--stand-in", "--out", str(tmp_path / "x")]) == 2
    assert "--paper" in capsys.readouterr().err
