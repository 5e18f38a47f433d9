"""The OpenAPI examples are valid instances of the models they illustrate."""

from __future__ import annotations

import pytest
from fuelhub_api.schemas import PaginatedFuelStationList, StationDetail, StationPage
from pydantic import BaseModel


@pytest.mark.parametrize("model", [PaginatedFuelStationList, StationPage, StationDetail])
def test_examples_validate(model: type[BaseModel]) -> None:
    examples = model.model_json_schema()["examples"]
    assert examples
    for example in examples:
        model.model_validate(example)
