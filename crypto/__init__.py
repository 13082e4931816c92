"""ownervote cryptography: pure functions and frozen dataclasses, no I/O, no server imports."""
