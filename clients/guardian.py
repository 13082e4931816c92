"""The guardian CLI: ``python -m clients.guardian --server HOST:PORT --trust BUNDLE --ca CA --cert C
--key K --state FILE COMMAND`` (mutual TLS: the certificate's common name is
``<election>/guardian-<index>``).

    init --election ID --index I
        Generate this guardian's encryption key (n and t are read from the election's definition
        on the co-signed ledger) into the state file (mode 0600; it holds every secret of this
        guardian — keep it safe), and print the key's fingerprint: the community pins it in the
        trust bundle (``python -m clients.trust add-guardians``).
    fingerprint
        Print the key's fingerprint again.
    ceremony
        Run the key ceremony to its end: register the key, deal, check the shares received
        (filing a verifiable complaint against a bad one), then check the joint key the server
        publishes against QUAL recomputed here and combine this guardian's share.
    decrypt
        The tally. Refused unless the close and the aggregates are on the ledger: downloads the
        whole ledger, checks every checkpoint, every ballot and the aggregates, then decrypts the
        aggregates (nothing else, once) and submits the shares with their proofs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from crypto.errors import CryptoError

from .channel import add_connection_arguments, channel_from
from .guardian_client import GuardianClient, GuardianRefusal, GuardianState, new_guardian
from .trust import NoTrust, add_trust_argument, read_bundle
from .voter_sdk import Refused, VoterClient


async def run(args) -> None:
    bundle = read_bundle(args.trust)
    async with channel_from(args) as channel:
        if args.cmd == "init":
            if args.state.exists():
                raise GuardianRefusal(f"{args.state} exists: a guardian's key is made once")
            e, _ = await VoterClient(channel, bundle).records(args.election,
                                                              require_guardians=False)
            state = new_guardian(args.election, args.index, e.guardians, e.threshold)
            state.save(args.state)
            print(f"guardian {args.index} of {e.guardians} (threshold {e.threshold}) for "
                  f"{args.election}: key saved in {args.state}; fingerprint "
                  f"{state.fingerprint.hex()}")
            return
        state = GuardianState.load(args.state)
        if args.cmd == "fingerprint":
            print(f"{state.index}:{state.fingerprint.hex()}")
            return
        client = GuardianClient(channel, state, args.state, bundle)
        if args.cmd == "ceremony":
            await client.run_ceremony()
            print(f"guardian {state.index}: ceremony complete; joint key "
                  f"{state.joint_public_key.hex()}; share checked against its verification key")
        else:
            n = await client.decrypt()
            print(f"guardian {state.index}: ledger verified; {n} decryption share(s) of the "
                  "aggregates submitted")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clients.guardian",
                                description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 3)[3])
    add_connection_arguments(p, client_cert=True)
    add_trust_argument(p)
    p.add_argument("--state", type=Path, required=True)
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("init")
    i.add_argument("--election", required=True)
    i.add_argument("--index", type=int, required=True)
    sub.add_parser("fingerprint")
    sub.add_parser("ceremony")
    sub.add_parser("decrypt")
    args = p.parse_args(argv)
    try:
        asyncio.run(run(args))
    except NoTrust as exc:  # no pinned bundle: nothing is asked of the server
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"refused by the server: {exc}", file=sys.stderr)
        return 1
    except (GuardianRefusal, CryptoError) as exc:
        print(f"guardian refuses: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
