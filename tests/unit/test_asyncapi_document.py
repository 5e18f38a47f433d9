"""The committed AsyncAPI document matches what FastStream generates from the code."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_committed_asyncapi_is_current() -> None:
    spec = importlib.util.spec_from_file_location("asyncapi_gen", ROOT / "deploy/dev/asyncapi.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "docs/asyncapi.json").read_text(encoding="utf-8")
    assert module.render() == committed, "docs/asyncapi.json is stale: run `make asyncapi`"


def test_document_describes_every_event_model() -> None:
    text = (ROOT / "docs/asyncapi.json").read_text(encoding="utf-8")
    for name in ("StationsChanged", "PricesChanged", "PollCompleted", "StationState", "FuelPrice"):
        assert f'"{name}"' in text
