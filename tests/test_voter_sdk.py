"""The voter SDK (clients/voter_sdk.py) against the real services over gRPC (a server, three
validating witnesses and three registrars as processes, k = 2): election with its recomputed
hash, blind credential from the registrars over their own TLS connections, cast with a verified
receipt, revote, and refusals."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from clients.scenario import ElectionScenario, registrar_endpoints
from clients.voter_sdk import Refused, VoterClient, Wallet
from crypto.credential import generate_token
from crypto.errors import InvalidProof
from crypto.log.receipt import Receipt
from crypto.records import ElectionState
from rules.roll_csv import parse_roll_csv
from tests.cluster_support import election_cluster

ROLL = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()


@pytest.fixture
def cluster(own_dsn, tmp_path):
    with election_cluster(tmp_path / "cluster", "sdk", dsn=own_dsn) as c:
        yield c


async def test_the_phone_path_end_to_end(cluster):
    eid, provider = cluster.election_id, cluster.provider
    roll = parse_roll_csv(ROLL.decode())
    async with ElectionScenario(cluster, eid, poll=0.1) as sc:
        await sc.define(ROLL, f"c-{eid}", motion="Mend the gate", opens_in=8, open_for=60)
        await sc.run_ceremony(timeout=60)
        await sc.wait_for(ElectionState.OPEN, timeout=40)
        ch = cluster.channel()
        voter = VoterClient(ch, sc.voter.bundle, registrars=registrar_endpoints(cluster),
                            first_cast_delay=(0.0, 0.0))
        election = await voter.election(eid)
        assert election.state is ElectionState.OPEN and election.context is not None
        assert set(election.weights) == {c.area for c in roll.weight_classes()}
        assert len(election.issuers) >= election.definition.registrar_threshold == 2
        owner = roll.owners[2]
        att, sig = provider.attest(owner.owner_id, eid)  # eligibility only
        assert await voter.eligibility(election, att, sig) == owner.area
        asked = []

        async def attest(blinded_msgs):  # the identity provider, as an app would await it
            asked.append(tuple(blinded_msgs))
            return provider.attest(owner.owner_id, eid, blinded_msgs)

        wallet = await voter.obtain_credential(election, attest)
        # an eligibility-only attestation first, then one for exactly the blinded messages,
        # one per registrar with keys
        assert [len(a) for a in asked] == [0, len(election.issuers)]
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
            await voter.eligibility(election, att3, sig3)
        assert err.value.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED,
                                  grpc.StatusCode.INVALID_ARGUMENT)
        # the receipt is for exactly the entry the ballot became
        assert first.receipt.leaf_hash != again.receipt.leaf_hash
        assert len(first.ballot_hash) == 32
        await ch.close()


def test_a_wallet_refuses_a_credential_of_another_token():
    import json

    from crypto.codec import encode_credential
    from crypto.credential import Credential, CredentialSignature
    token = generate_token()
    cred = Credential("e", 100, bytes(32), (CredentialSignature(0, bytes(32), b"\x01" * 256),
                                            CredentialSignature(1, bytes(32), b"\x02" * 256)))
    raw = token.private_bytes_raw().hex()
    text = json.dumps({"token": raw, "credential": encode_credential(cred).hex()})
    with pytest.raises(ValueError, match="another token"):
        Wallet.from_json(text)
