"""Demo upstreams: Source 1 (stations) and Source 2 (prices), evolving, with fault knobs."""
