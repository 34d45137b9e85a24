"""A verified, conditional multi-key write to immudb.

immudb-py's ``verifiedSet`` writes one key and offers no preconditions; an audit append must write the
entry, its event-id key, its index keys and its tree nodes in one transaction, and only if no one else
took that index meanwhile. This does what ``verifiedSet`` does (server proof that every key is in the
new transaction, dual proof that the new state extends the trusted one, trusted state advanced)
for many keys with ``keyMustNotExist`` preconditions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class PreconditionFailed(Exception):
    """Another writer created one of the keys first; re-read and retry."""


def verified_set_all(client: Any, kvs: Sequence[tuple[bytes, bytes]], must_not_exist: Sequence[bytes]) -> int:
    """Write ``kvs`` atomically if none of ``must_not_exist`` exists; verify and return the tx id."""
    import grpc
    from immudb import schema
    from immudb.database import meta
    from immudb.embedded import store
    from immudb.exceptions import ErrCorruptedData
    from immudb.grpc import schema_pb2
    from immudb.rootService import State

    rs = client._rs  # the client's trusted-state service, shared with its own verified calls
    state = rs.get()
    request = schema_pb2.VerifiableSetRequest(
        setRequest=schema_pb2.SetRequest(
            KVs=[schema_pb2.KeyValue(key=k, value=v) for k, v in kvs],
            preconditions=[
                schema_pb2.Precondition(
                    keyMustNotExist=schema_pb2.Precondition.KeyMustNotExistPrecondition(key=k)
                )
                for k in must_not_exist
            ],
        ),
        proveSinceTx=state.txId,
    )
    try:
        vtx = client._stub.VerifiableSet(request)
    except grpc.RpcError as exc:
        details = (exc.details() or "") if hasattr(exc, "details") else ""
        if "precondition" in details.lower():
            raise PreconditionFailed(details) from exc
        raise
    if vtx.tx.header.nentries != len(kvs) or len(vtx.tx.entries) != len(kvs):
        raise ErrCorruptedData
    tx = schema.TxFromProto(vtx.tx)
    entry_digest = store.EntrySpecDigestFor(tx.header.version)
    for (key, value), entry in zip(sorted(kvs), sorted(tx.entries, key=lambda e: e.key()), strict=True):
        md = entry.metadata()
        if md is not None and md.Deleted():
            raise ErrCorruptedData
        proof = tx.Proof(meta.EncodeKey(key))
        if not store.VerifyInclusion(proof, entry_digest(meta.EncodeEntrySpec(key, md, value)), tx.header.eh):
            raise ErrCorruptedData
    if tx.header.eh != schema.DigestFromProto(vtx.dualProof.targetTxHeader.eH):
        raise ErrCorruptedData
    target_alh = tx.header.Alh()
    if state.txId > 0 and not store.VerifyDualProof(
        schema.DualProofFromProto(vtx.dualProof),
        state.txId,
        tx.header.iD,
        schema.DigestFromProto(state.txHash),
        target_alh,
    ):
        raise ErrCorruptedData
    new_state = State(
        db=state.db,
        txId=tx.header.iD,
        txHash=target_alh,
        publicKey=vtx.signature.publicKey,
        signature=vtx.signature.signature,
    )
    if client._vk is not None:
        new_state.Verify(client._vk)
    rs.set(new_state)
    return tx.header.iD
