"""Test scaffolding shared by the tests, the benchmarks and the vector generator.

Each module holds one honest sequence of the crypto library, written once: ``dkg`` (a whole
key ceremony run locally), ``ballots`` (a voter's credential and signed ballot), ``curve``
(P-256 values that are not points); and ``processes`` (a project process started and the port it
listens on read from its output). Nothing here asserts; no test logic lives here, and no module
is collected by pytest (no name starts with ``test_``).
"""
