"""The election's gRPC services (election.proto): each maps its requests through
``ownervote.v1.wire``, calls the domain (stores, ballot box, tally) and answers every refusal
through server/errors.py."""
