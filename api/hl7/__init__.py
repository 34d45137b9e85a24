"""HL7 v2 over MLLP: the listener, parsing and validation (hl7apy), ACKs, and the durable hand-over."""
