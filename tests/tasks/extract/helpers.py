"""What every reader's tests share: default limits, an NFD file name, the refusal check."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from core.errors import Refusal
from core.settings import IntakeSettings
from tasks.extract import extract_text

LIMITS = IntakeSettings()
NFD_NAME = unicodedata.normalize("NFD", "パイロット議事録")


def refused(path: Path, limits: IntakeSettings = LIMITS) -> Refusal:
    """The Refusal for `path`, checked to carry both audiences' explanations."""
    with pytest.raises(Refusal) as info:
        extract_text(path, limits)
    refusal = info.value
    assert refusal.reason_ja.strip(), "the employee must be told why"
    assert refusal.detail.strip(), "IT must get a technical detail"
    return refusal
