"""The voter SDK (clients/voter_sdk.py) against the real services over gRPC: election with its
recomputed hash, blind credential, cast with a verified receipt, revote, and refusals."""

from __future__ import annotations

import grpc
import pytest

from clients.voter_sdk import Refused, VoterClient, Wallet
from crypto.credential import generate_token
from crypto.dkg import guardian_fingerprint
from crypto.errors import InvalidProof
from crypto.log.receipt import Receipt
from crypto.log.trust import TrustBundle, make_bundle
from crypto.records import ElectionState
from tests.test_ballot_service import booth  # noqa: F401  (the fixture)


def booth_bundle(h, provider, eid: str, quorum: int = 2) -> TrustBundle:
    """The booth's trust bundle: its log and witnesses, and the election's guardians pinned."""
    return make_bundle(h.node.signer.name, h.node.signer.verifier().vkey(),
                       [w.signer.verifier().vkey() for w in h.witnesses], quorum,
                       provider.public_key.public_bytes_raw()).with_guardians(
        eid, {i: guardian_fingerprint(eid, k.public) for i, k in h.dkg.keys.items()})


async def test_the_phone_path_end_to_end(booth):  # noqa: F811
    reg, box, store, provider, roll, eid, h, public = booth
    async with grpc.aio.insecure_channel(h.booth_address) as ch:
        voter = VoterClient(ch, booth_bundle(h, provider, eid))
        election = await voter.election(eid)
        assert election.state is ElectionState.OPEN and election.context is not None
        assert set(election.issuers) == {c.area for c in roll.weight_classes()}
        owner = roll.owners[2]
        att, sig = provider.attest(owner.owner_id, eid)  # eligibility only
        assert await voter.eligibility(att, sig) == owner.area
        asked = []

        async def attest(blinded_msgs):  # the identity provider, as an app would await it
            asked.append(tuple(blinded_msgs))
            return provider.attest(owner.owner_id, eid, blinded_msgs)

        wallet = await voter.obtain_credential(election, attest)
        # an eligibility-only attestation first, then one for exactly the one blinded message
        assert [len(a) for a in asked] == [0, 1]
        assert wallet.credential.weight == owner.area
        restored = Wallet.from_json(wallet.to_json())  # what the phone stores
        assert restored.credential == wallet.credential
        assert restored.token.public_key().public_bytes_raw() == \
            wallet.token.public_key().public_bytes_raw()
        first = await voter.cast(election, wallet, [0])
        assert first.wallet.last_counter == 1 and wallet.last_counter == 0
        assert Wallet.from_json(first.wallet.to_json()).last_counter == 1  # persisted
        again = await voter.cast(election, first.wallet, [1])  # a revote: both on the ledger
        assert again.wallet.last_counter == 2
        assert again.receipt.index > first.receipt.index
        assert await voter.verify_receipt(first.receipt) >= first.receipt.index + 1
        # a receipt for another entry does not verify
        other = Receipt(first.receipt.index, bytes(32), first.receipt.inclusion_proof,
                        first.receipt.signed_note)
        with pytest.raises(InvalidProof):
            await voter.verify_receipt(other)
        # one credential per owner: a new token (a different blinded request) is refused
        with pytest.raises(Refused) as err:
            await voter.obtain_credential(election, provider.attester(owner.owner_id, eid),
                                          owner.area)
        assert err.value.code == grpc.StatusCode.ALREADY_EXISTS
        # an attestation for another election is refused with the field named
        att3, sig3 = provider.attest(owner.owner_id, "another-election")
        with pytest.raises(Refused) as err:
            await voter.eligibility(att3, sig3)
        assert err.value.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED,
                                  grpc.StatusCode.INVALID_ARGUMENT)
        # the receipt is for exactly the entry the ballot became
        assert first.receipt.leaf_hash != again.receipt.leaf_hash
        assert len(first.ballot_hash) == 32


def test_a_wallet_refuses_a_credential_of_another_token():
    import json

    from crypto.codec import encode_credential
    from crypto.credential import Credential
    token = generate_token()
    cred = Credential("e", 100, bytes(32), bytes(32), b"\x01" * 256)
    raw = token.private_bytes_raw().hex()
    text = json.dumps({"token": raw, "credential": encode_credential(cred).hex()})
    with pytest.raises(ValueError, match="another token"):
        Wallet.from_json(text)
