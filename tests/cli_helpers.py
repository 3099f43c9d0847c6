"""What the CLI tests share: running a command that must fail as a user sees it."""

import pytest

from fastlstm.cli import main


def cli_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the CLI expecting exit 2 and one line on stderr, no traceback; give that line."""
    try:
        code = main(list(args))
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err
