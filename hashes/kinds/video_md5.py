from hashes.kinds import HexDigestKind


class VideoMD5(HexDigestKind):
    name = "video_md5"
    description = "MD5 of a video file, 32 hex digits; exact match"
    hex_digits = 32


KIND = VideoMD5()
