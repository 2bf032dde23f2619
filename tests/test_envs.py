"""python -m tools envs: the environment names asv would create, from asv.conf.json."""

from __future__ import annotations

import json

from tools.__main__ import main


def test_envs_lists_the_matrix_with_the_reference_first(capsys, monkeypatch, tmp_path):
    conf = {"version": 1, "project": "p", "repo": ".", "environment_type": "virtualenv", "pythons": ["3.11"],
            "matrix": {"req": {"numpy": ["2.3.5", "1.26.4"], "scipy": [""]}}}  # fmt: skip
    (tmp_path / "asv.conf.json").write_text(json.dumps(conf))
    monkeypatch.chdir(tmp_path)
    assert main(["envs"]) == 0
    names = capsys.readouterr().out.split()
    assert names == ["virtualenv-py3.11-numpy2.3.5-scipy", "virtualenv-py3.11-numpy1.26.4-scipy"]
    assert main(["envs", "--first"]) == 0
    assert capsys.readouterr().out.split() == names[:1]
    assert main(["envs", "--python", "3.9"]) == 2
    assert "no asv environment of Python 3.9" in capsys.readouterr().err


def test_envs_without_a_configuration_is_one_clear_error(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert main(["envs", "--config", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert "missing.json" in err and "Traceback" not in err
