"""Shared building blocks of the fuelhub services."""
