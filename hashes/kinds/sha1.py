from hashes.kinds import HexDigestKind


class SHA1(HexDigestKind):
    name = "sha1"
    description = "SHA-1 of a file, 40 hex digits; exact match"
    hex_digits = 40


KIND = SHA1()
