from hashes.kinds import HexDigestKind


class SHA256(HexDigestKind):
    name = "sha256"
    description = "SHA-256 of a file, 64 hex digits; exact match"
    hex_digits = 64


KIND = SHA256()
