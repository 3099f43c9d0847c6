"""Stand-ins for training, set wherever a module binds `train` (the API, the sweep command,
the range test, the doctor), so a guard holds whichever path reaches it."""

import fastlstm.analysis._doctor
import fastlstm.analysis._lr_range
import fastlstm.api._sweep
import fastlstm.cli._sweep

TRAIN_USERS = (fastlstm.api._sweep, fastlstm.cli._sweep, fastlstm.analysis._lr_range, fastlstm.analysis._doctor)


def patch_train(monkeypatch, fake):
    """Replace `train` with `fake` in every module that calls it."""
    for module in TRAIN_USERS:
        monkeypatch.setattr(module, "train", fake)
