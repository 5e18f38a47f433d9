"""The read API: the seed's v1 contract, frozen, and v2."""
