"""checkpoints/README.md: each bundled checkpoint has a card section, printed by scripts/model_card.py."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import model_card  # noqa: E402

README = (ROOT / "checkpoints" / "README.md").read_text()
BUNDLED = sorted(p.name for p in (ROOT / "checkpoints").glob("*.pt"))


def _sections() -> dict[str, str]:
    parts = re.split(r"^## Card: `([^`]+)`\n", README, flags=re.M)
    return {name: re.split(r"^## ", body, flags=re.M)[0].strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_every_bundled_checkpoint_has_one_card_and_no_card_is_orphaned():
    assert sorted(_sections()) == BUNDLED


@pytest.mark.parametrize("name", BUNDLED)
def test_card_is_what_model_card_prints(name):
    assert _sections()[name] == model_card.card(str(ROOT / "checkpoints" / name)).strip()
