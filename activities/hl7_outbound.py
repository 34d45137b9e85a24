"""Outbound HL7 v2: ADT^A01/A03, ORU^R01 and ORM^O01 built from the store and sent over MLLP.

``hl7_send`` succeeds only on an ``AA``/``CA`` answer; anything else (refused connection,
timeout, AE, AR) raises, and the workflow's retry policy has no maximum attempts, so a
message is delayed by an outage of the destination but never dropped. The control id is
fixed by the workflow, so a destination sees a resend as the same message.
"""
from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.crypto.fields import FieldCipher, ephemeral_cipher
from activities.storage import repository as repo
from workflows.hl7_contracts import Hl7Outbound, Hl7OutboundRequest

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"
GENDER = {"female": "F", "male": "M", "other": "O", "unknown": "U"}
KINDS = frozenset({"ADT^A01", "ADT^A03", "ORU^R01", "ORM^O01"})


def esc(value: Any) -> str:
    text = "" if value is None else str(value)
    out = text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\").replace("&", "\\T\\")
    return "".join(ch for ch in out.replace("~", "\\R\\") if ch.isprintable())


def ts(when: datetime | None) -> str:
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%S") if when else ""


def build_message(req: Hl7OutboundRequest, patient: Any, encounter: Any, observations: list[dict[str, Any]],
                  now: datetime) -> str:
    """ER7 text of one outbound message (segments ended by CR)."""
    mtype, trigger = req.kind.split("^")
    structure = {"ADT": "ADT_A01" if trigger == "A01" else "ADT_A03", "ORU": "ORU_R01", "ORM": "ORM_O01"}[mtype]
    system, value = patient.identifiers[0] if patient.identifiers else ("", patient.id)
    authority = "HMS" if system == "urn:hms:mrn" else system
    segs = [f"MSH|^~\\&|HMS|HMS|||{ts(now)}||{mtype}^{trigger}^{structure}|{esc(req.control_id)}|P|2.5",
            f"PID|1||{esc(value)}^^^{esc(authority)}^MR~{esc(patient.id)}^^^HMS-ID^PI||{esc(patient.family)}^"
            f"{esc(patient.given)}||{patient.birth_date:%Y%m%d}|{GENDER.get(patient.gender, 'U')}"]
    if mtype == "ADT":
        segs.insert(1, f"EVN|{trigger}|{ts(now)}")
    if encounter is not None:
        pv1 = [""] * 46  # PV1-3 ward, PV1-7 attending, PV1-19 visit number, PV1-44/45 admit/discharge time
        pv1[1], pv1[2], pv1[3] = "1", "I", f"{esc(encounter.ward_id)}^^^HMS"
        pv1[7], pv1[19] = esc(encounter.attending_id or ""), esc(encounter.id)
        pv1[44] = ts(encounter.admitted_at)
        pv1[45] = ts(encounter.ended_at) if trigger == "A03" else ""
        segs.append("|".join(["PV1", *pv1[1:]]).rstrip("|"))
    if mtype == "ORM":
        segs += [f"ORC|NW|{esc(req.order_id)}", f"OBR|1|{esc(req.order_id)}||{esc(req.order_code)}^"
                 f"{esc(req.order_text or '')}"]
    if mtype == "ORU":
        segs.append(f"OBR|1|||{esc(req.order_code or 'results')}")
        for n, obs in enumerate(observations, start=1):
            segs.append(_obx(n, obs))
    return "\r".join(segs) + "\r"


def _obx(n: int, obs: dict[str, Any]) -> str:
    coding = (obs.get("code", {}).get("coding") or [{}])[0]
    system = {"http://loinc.org": "LN", "http://snomed.info/sct": "SCT"}.get(coding.get("system", ""), "L")
    code = f"{esc(coding.get('code'))}^{esc(coding.get('display', ''))}^{system}"
    status = {"final": "F", "preliminary": "P", "corrected": "C", "amended": "C", "cancelled": "X"}.get(
        obs.get("status", ""), "F")
    when = (obs.get("effectiveDateTime") or "").replace("-", "").replace(":", "").replace("T", "")[:14]
    if "valueQuantity" in obs:
        q = obs["valueQuantity"]
        return f"OBX|{n}|NM|{code}||{esc(q.get('value'))}|{esc(q.get('unit', ''))}|||||{status}|||{when}"
    text = obs.get("valueString") or (obs.get("valueCodeableConcept") or {}).get("text", "")
    return f"OBX|{n}|ST|{code}||{esc(text)}||||||{status}|||{when}"


def send_mllp(destination: str, message: str, timeout: float = 30.0) -> str:
    """Send one framed message to ``host:port`` and return the ACK code; raises unless AA/CA."""
    host, _, port = destination.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(SB + message.encode() + EB + CR)
        data = b""
        while not data.endswith(EB + CR):
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("the destination closed the connection before its ACK")
            data += chunk
    for seg in data.strip(SB + EB + CR).decode("utf-8", "replace").split("\r"):
        if seg.startswith("MSA"):
            code = (seg.split(seg[3]) + ["", ""])[1] if len(seg) > 3 else ""
            if code in ("AA", "CA"):
                return code
            raise ApplicationError(f"the destination answered {code or 'no code'}", type="Hl7NotAccepted")
    raise ApplicationError("the destination's answer has no MSA segment", type="Hl7NotAccepted")


class Hl7OutboundActivities:
    def __init__(self, session_factory: Callable[[], Session], cipher: FieldCipher | None = None) -> None:
        self._sessions = session_factory
        self._cipher = cipher or ephemeral_cipher()

    @activity.defn(name="hl7_build_outbound")
    def hl7_build_outbound(self, req: Hl7OutboundRequest) -> str:
        """The message text, from the store as it is now (content stays in encrypted payloads only)."""
        if req.kind not in KINDS:
            raise ApplicationError(f"unsupported outbound message {req.kind}", type="Hl7Unsupported",
                                   non_retryable=True)
        from activities.storage import observations_repo

        with self._sessions() as s:
            patient = repo.read_patient(s, self._cipher, req.patient_id)
            if patient is None:
                raise ApplicationError("the patient is not registered", type="PatientUnknown", non_retryable=True)
            encounter = s.get(repo.Encounter, req.encounter_id) if req.encounter_id else None
            observations = [o for o in (observations_repo.get_observation(s, self._cipher, i)
                                        for i in req.observation_ids) if o is not None]
        return build_message(req, patient, encounter, observations, datetime.now(UTC))

    @activity.defn(name="hl7_send")
    def hl7_send(self, out: Hl7Outbound) -> str:
        try:
            return send_mllp(out.destination, out.message)
        except OSError as exc:
            raise ApplicationError(f"{out.destination} unreachable ({type(exc).__name__})",
                                   type="Hl7DestinationDown") from None

    def all(self) -> list[Callable[..., Any]]:
        return [self.hl7_build_outbound, self.hl7_send]
