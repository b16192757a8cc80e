"""The member-side client of the consortium (PROTOCOL.md), importable without the server.

Its modules need only the Python standard library, `cryptography` and `rfc8785`:
`jose` (keys, kids, JCS, signed envelopes), `http` (a small urllib client), `submit`
(sign and send a batch), `mirror` (verified sync of releases and snapshots into SQLite),
`progress`, `merkle` (RFC 9162 Merkle tree hashes and proofs), `note` (C2SP signed notes and
tlog-checkpoints) and `audit_verify` (the offline verifier of an audit-log export); the
command line is `python -m consortium_client`. The server imports `jose.jcs`, `merkle` and
`note`, so both sides agree on every byte.
"""
