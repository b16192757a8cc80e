from hashes.kinds import HexDigestKind


class MD5(HexDigestKind):
    name = "md5"
    description = "MD5 of a file, 32 hex digits; exact match"
    hex_digits = 32


KIND = MD5()
