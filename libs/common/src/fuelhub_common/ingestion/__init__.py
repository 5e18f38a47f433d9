"""Shared ingestion machinery: fetch an upstream, validate, detect changes, publish, repeat.

Each ingestor service supplies only a :class:`~fuelhub_common.ingestion.source.SourceAdapter`
(its source's parsing and mapping); everything else lives here.
"""
