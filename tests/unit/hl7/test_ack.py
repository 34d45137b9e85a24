"""ACKs: MSA code and control id, ERR segment, escaping of echoed values."""
from __future__ import annotations

import hl7

from api.hl7.ack import build_ack, escape
from api.hl7.errors import Hl7Error, Location
from api.hl7.header import Header, best_effort_header, read_header
from tests.unit.hl7.samples import adt


def test_accept_echoes_control_id_and_addresses_the_sender() -> None:
    header = read_header(adt("A01", cid="CTRL-9"))
    ack = hl7.parse(build_ack(header, "AA"))
    assert str(ack.segment("MSA")[1]) == "AA" and str(ack.segment("MSA")[2]) == "CTRL-9"
    msh = ack.segment("MSH")
    assert (str(msh[5]), str(msh[6]), str(msh[9])) == ("LABSYS", "GENLAB", "ACK^A01^ACK")
    assert str(msh[12]) == "2.5"
    assert len([s for s in ack if str(s[0]) == "ERR"]) == 0


def test_error_ack_has_an_err_segment_with_location_code_and_text() -> None:
    err = Hl7Error("AE", "101", "PID-3 patient identifier is required", Location("PID", 1, 3))
    ack = hl7.parse(build_ack(read_header(adt("A01", cid="C2")), "AE", err))
    assert str(ack.segment("MSA")[1]) == "AE"
    e = ack.segment("ERR")
    assert str(e[2]) == "PID^1^3" and str(e[3]) == "101^Required field missing^HL70357" and str(e[4]) == "E"
    assert str(e[8]) == "PID-3 patient identifier is required"


def test_echoed_values_cannot_inject_segments_or_fields() -> None:
    header = Header(control_id="X|Y\rERR|boom", sending_application="A^B", version="9")
    text = build_ack(header, "AR", Hl7Error("AR", "203", "bad"))
    segments = [s for s in text.split("\r") if s]
    assert [s[:3] for s in segments] == ["MSH", "MSA", "ERR"]
    assert segments[1].split("|")[2] == "X\\F\\YERR\\F\\boom"
    assert segments[0].split("|")[11] == "2.5"  # an unsupported version is not echoed
    assert escape("a\\b~c&d") == "a\\E\\b\\R\\c\\T\\d"


def test_best_effort_header_reads_what_it_can() -> None:
    assert best_effort_header("MSH|^~\\&|APP|FAC|||||ZZ|CID42").control_id == "CID42"
    assert best_effort_header("garbage").control_id == ""
