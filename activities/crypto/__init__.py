"""Encryption of patient data: key rings and the Temporal payload codec."""
