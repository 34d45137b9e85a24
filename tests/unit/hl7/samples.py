"""Synthetic HL7 v2 messages (no real patient): builders shared by the unit and integration tests."""
from __future__ import annotations

import uuid


def control_id() -> str:
    return f"C{uuid.uuid4().hex[:12]}"


def msh(kind: str, structure: str, cid: str, version: str = "2.5", facility: str = "GENLAB") -> str:
    return f"MSH|^~\\&|LABSYS|{facility}|HMS|HMS|20261125120000||{kind}^{structure}|{cid}|P|{version}"


def adt(trigger: str = "A01", *, mrn: str = "MRN1", cid: str | None = None, ward: str = "medical",
        attending: str = "attending-1", family: str = "Verma", given: str = "Asha", dob: str = "19800517",
        sex: str = "F", version: str = "2.5") -> str:
    return "\r".join([
        msh(f"ADT^{trigger}", f"ADT_{'A01' if trigger in ('A01', 'A04', 'A08') else trigger}", cid or control_id(),
            version),
        f"EVN|{trigger}|20261125120000",
        f"PID|1||{mrn}^^^HMS^MR||{family}^{given}||{dob}|{sex}",
        f"PV1|1|{'O' if trigger == 'A04' else 'I'}|{ward}^^^HMS||||{attending}^Doctor^Attending",
    ]) + "\r"


def oru(*, mrn: str = "MRN1", cid: str | None = None, value: str = "13.2", facility: str = "GENLAB") -> str:
    return "\r".join([
        msh("ORU^R01", "ORU_R01", cid or control_id(), facility=facility),
        f"PID|1||{mrn}^^^HMS^MR||Verma^Asha",
        "OBR|1|PL1|FL1|718-7^Hemoglobin^LN|||20261125100000",
        f"OBX|1|NM|718-7^Hemoglobin^LN||{value}|g/dL^g/dL^UCUM|12.0-16.0|N|||F|||20261125110000",
        "OBX|2|NM|8867-4^Heart rate^LN||72|/min^/min^UCUM|60-100|N|||F",
    ]) + "\r"


def orm(*, mrn: str = "MRN1", cid: str | None = None, trigger: str = "ORM^O01") -> str:
    structure = "ORM_O01" if trigger.startswith("ORM") else "OML_O21"
    return "\r".join([
        msh(trigger, structure, cid or control_id()),
        f"PID|1||{mrn}^^^HMS^MR||Verma^Asha",
        "ORC|NW|ORD-1001|FIL-1",
        "OBR|1|ORD-1001|FIL-1|36643-5^XR Chest 2 views^LN",
    ]) + "\r"


def ack_fields(ack: str) -> dict[str, list[str]]:
    """Segment id → its fields, for the first segment of each kind in an ACK."""
    out: dict[str, list[str]] = {}
    for seg in ack.replace("\n", "\r").split("\r"):
        if seg:
            out.setdefault(seg[:3], seg.split("|"))
    return out
