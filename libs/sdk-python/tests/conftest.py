import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def vectors():
    """docs/protocol-vectors.json: the wire contract's test vectors every SDK must pass."""
    return json.loads((ROOT / "docs" / "protocol-vectors.json").read_text(encoding="utf-8"))
