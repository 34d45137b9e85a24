"""Encryption of patient data: fields at rest (data keys, KEKs, blind indexes), key rings, the payload codec."""
