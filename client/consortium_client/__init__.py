"""The member-side client of the consortium (PROTOCOL.md), importable without the server.

Its modules need only the Python standard library, `cryptography` and `rfc8785`:
`merkle` (RFC 9162 Merkle tree hashes and proofs), `note` (C2SP signed notes and
tlog-checkpoints) and `audit_verify` (the offline verifier of an audit-log export).
The server imports the same modules, so both sides agree on every byte.
"""
