"""`python -m fastlstm.cli` runs the command line."""

from fastlstm.cli._main import main

raise SystemExit(main())
