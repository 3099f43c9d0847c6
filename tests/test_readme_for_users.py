"""The README is what users have: it must not send them to files they do not get (issue 26 item 19)."""

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_cites_no_design_notes():
    assert "DESIGN.md" not in README.read_text()
