"""The R30x-family fingerprint module (R307, R503, AS608 and clones): framing and client."""
