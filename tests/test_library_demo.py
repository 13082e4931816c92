"""`make demo` must keep working: run the library-level election and check what it prints."""

from clients import library_demo


def test_library_demo_runs_end_to_end(capsys):
    library_demo.main()
    out = capsys.readouterr().out
    assert "OUTCOME: the motion is PASSED" in out
    assert out.count(": refused (") == 4
    assert "BUG" not in out
