"""What an ingestor service supplies: how to read one record of its source."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from fuelhub_common.events import Source
from fuelhub_common.normalize import FuelNameNormalizer
from fuelhub_common.publishing import ChangeSetModel


class RecordRejectedError(Exception):
    """One record is invalid: it is skipped, logged and counted; the rest still flows."""

    def __init__(self, reason: str, entity_id: int | None = None, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.entity_id = entity_id
        self.detail = detail


class SourceAdapter(Protocol):
    """A source's parsing and mapping; the shared machinery does the rest."""

    @property
    def source(self) -> Source: ...

    @property
    def model(self) -> ChangeSetModel: ...

    @property
    def entity(self) -> str:
        """What one record is, for logs and metrics ("station", "price_list")."""
        ...

    def parse(self, record: Any, normalize_fuel: FuelNameNormalizer) -> tuple[int, BaseModel]:
        """Validate and normalise one raw record; raise RecordRejectedError when it is bad."""
        ...
