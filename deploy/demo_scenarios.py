"""The demo's synthetic patients: a varied mix of journeys, chosen deterministically from a seed.

Pure (no I/O, no clock): the same seed and count always give the same scenarios. The first
patients cycle through a set of archetypes (in a seed-shuffled order) so that even a small run
shows every kind of journey; later ones combine the variants at random. Names and birth dates
are invented; identifiers are added per run by the driver, so a scenario can run twice.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from deploy.seed import CARE_TEAMS, DEMO_USERS, WARDS

DEFAULT_SEED = 20_240_611
GIVEN = ("Asha", "Ravi", "Meera", "Arjun", "Lena", "Tomas", "Aiko", "Sofia", "Kwame", "Nadia", "Omar", "Ines")
FAMILY = ("Verma", "Iyer", "Okafor", "Novak", "Silva", "Tanaka", "Haddad", "Larsen", "Mensah", "Rossi", "Khan")


@dataclass(frozen=True)
class ImagingPlan:
    modality: str
    body_site: str
    reason_code: str
    priority: str = "routine"
    #: True: DICOM bytes are uploaded (the AI pre-screen scores them); False: an external reference.
    upload: bool = True
    radiologist: str = "radiologist-1"
    abnormal: bool = False


@dataclass(frozen=True)
class MedPlan:
    drug_code: str
    dose: float
    unit: str
    route: str
    frequency_hours: int
    doses: int
    #: approve | reject (the pharmacist's verdict; an approval with findings carries an override reason)
    verify: str = "approve"
    #: given | held | refused (the first dose on the eMAR)
    dose_status: str = "given"
    #: A formulary drug class or code recorded as an allergy before the order.
    allergy: str | None = None
    #: continue | stop (medication reconciliation at discharge, when the course still runs)
    at_discharge: str = "continue"


@dataclass(frozen=True)
class Scenario:
    index: int
    #: elective | ed (triage at the door) | ed-intake (conversational intake, then triage)
    arrival: str
    ward: str
    reason: str
    given: str
    family: str
    birth_date: str
    gender: str
    complaint: str | None = None
    #: stable | unwell | critical (NEWS2 ≥ 7: a rapid response for the attending)
    vitals: str = "stable"
    esi_override: bool = False
    imaging: ImagingPlan | None = None
    medications: tuple[MedPlan, ...] = field(default_factory=tuple)
    psych_note: bool = False
    follow_up: bool = True
    #: paid | denied (the billing clerk's settlement of the claim)
    settlement: str = "paid"

    @property
    def ed(self) -> bool:
        return self.arrival != "elective"


# --- building blocks ------------------------------------------------------------------------------

PARACETAMOL = MedPlan("161", 1000, "mg", "PO", 6, 1)
ONDANSETRON = MedPlan("26225", 4, "mg", "PO", 8, 1)
OMEPRAZOLE = MedPlan("7646", 20, "mg", "PO", 24, 1)
CEFTRIAXONE = MedPlan("2193", 1, "g", "IV", 24, 3)
ENOXAPARIN = MedPlan("67108", 40, "mg", "SC", 24, 3, at_discharge="stop")
SERTRALINE = MedPlan("36437", 50, "mg", "PO", 24, 3)
WARFARIN = MedPlan("11289", 3, "mg", "PO", 24, 3)
#: Ordered while warfarin runs: an interaction finding the pharmacist overrides with a reason.
ASPIRIN_OVER_WARFARIN = MedPlan("1191", 75, "mg", "PO", 24, 1)
#: Ordered while sertraline runs: a serotonergic interaction, overridden.
TRAMADOL_OVER_SSRI = MedPlan("10689", 50, "mg", "PO", 8, 1, dose_status="held")
#: A penicillin allergy on record: the pharmacist rejects the order.
AMOXICILLIN_ALLERGIC = MedPlan("723", 500, "mg", "PO", 8, 1, verify="reject", allergy="penicillin")
#: No finding, but the pharmacist rejects it (dose to be reviewed with the prescriber).
DIGOXIN_REJECTED = MedPlan("3407", 0.25, "mg", "PO", 24, 1, verify="reject")
LORAZEPAM = MedPlan("6470", 1, "mg", "PO", 8, 1, dose_status="refused")

CHEST_XR = ImagingPlan("CR", "51185008", "233604007")
ABDOMEN_CT = ImagingPlan("CT", "818983003", "21522001", priority="urgent", upload=False)
ABDOMEN_US = ImagingPlan("US", "818983003", "21522001", upload=False)
HEAD_MR = ImagingPlan("MR", "69536005", "25064002")
WRIST_XR = ImagingPlan("DX", "74670003", "125605004", abnormal=True)

REASONS = {"medical": ("pneumonia", "cellulitis", "heart failure", "diabetic review"),
           "surgical": ("appendicitis", "hernia repair", "cholecystitis", "wrist fracture"),
           "psychiatry": ("depressive episode", "acute anxiety", "bipolar relapse")}
COMPLAINTS = {"medical": ("shortness of breath", "fever and chills", "chest pain"),
              "surgical": ("abdominal pain", "fall with wrist injury", "abdominal pain and vomiting"),
              "psychiatry": ("low mood and not sleeping", "panic and palpitations")}


def wards_with_nurses() -> tuple[str, ...]:
    """Wards a journey can finish on: a seeded nurse works there (bed cleaning, doses) and a care team covers it."""
    nursed = {w for u in DEMO_USERS if u.role == "nurse" for w in u.wards}
    covered = {w for _, wards, _ in CARE_TEAMS.values() for w in wards}
    return tuple(w for w in WARDS if w in nursed and w in covered and w != "emergency")


def _archetypes(wards: tuple[str, ...]) -> list[dict]:
    """One of each kind of journey worth showing; psychiatry ones fall back to another ward if not nursed."""
    psy = "psychiatry" if "psychiatry" in wards else wards[0]
    med = "medical" if "medical" in wards else wards[0]
    surg = "surgical" if "surgical" in wards else wards[-1]
    return [
        dict(arrival="elective", ward=med, imaging=CHEST_XR, medications=(PARACETAMOL,)),
        dict(arrival="ed", ward=surg, vitals="unwell", imaging=ABDOMEN_CT, medications=()),
        dict(arrival="ed-intake", ward=med, vitals="unwell", medications=(WARFARIN, ASPIRIN_OVER_WARFARIN)),
        dict(arrival="elective", ward=psy, medications=(SERTRALINE,), psych_note=psy == "psychiatry"),
        dict(arrival="ed", ward=med, vitals="critical", imaging=CHEST_XR,
             medications=(AMOXICILLIN_ALLERGIC, CEFTRIAXONE)),
        dict(arrival="elective", ward=surg, medications=(), settlement="denied", follow_up=False),
        dict(arrival="ed", ward=psy, esi_override=True, medications=(LORAZEPAM,), psych_note=psy == "psychiatry"),
        dict(arrival="elective", ward=med, imaging=ABDOMEN_US, medications=(DIGOXIN_REJECTED, ONDANSETRON)),
        dict(arrival="ed-intake", ward=surg, imaging=WRIST_XR, medications=(ENOXAPARIN,)),
        dict(arrival="elective", ward=psy, medications=(SERTRALINE, TRAMADOL_OVER_SSRI),
             psych_note=psy == "psychiatry"),
    ]


def _random_kind(rng: random.Random, wards: tuple[str, ...]) -> dict:
    ward = rng.choice(wards)
    arrival = rng.choices(("elective", "ed", "ed-intake"), weights=(5, 3, 2))[0]
    imaging = rng.choice((None, None, CHEST_XR, ABDOMEN_CT, ABDOMEN_US, HEAD_MR, WRIST_XR))
    meds_pool: list[tuple[MedPlan, ...]] = [(), (PARACETAMOL,), (OMEPRAZOLE,), (CEFTRIAXONE,), (ONDANSETRON,),
                                            (WARFARIN, ASPIRIN_OVER_WARFARIN), (DIGOXIN_REJECTED,),
                                            (AMOXICILLIN_ALLERGIC,)]
    if ward == "psychiatry":
        meds_pool += [(SERTRALINE,), (LORAZEPAM,), (SERTRALINE, TRAMADOL_OVER_SSRI)]
    return dict(arrival=arrival, ward=ward, vitals=rng.choice(("stable", "stable", "unwell", "critical")),
                esi_override=rng.random() < 0.2, imaging=imaging, medications=rng.choice(meds_pool),
                psych_note=ward == "psychiatry" and rng.random() < 0.6,
                settlement="denied" if rng.random() < 0.15 else "paid", follow_up=rng.random() < 0.8)


def generate(count: int, seed: int = DEFAULT_SEED, wards: tuple[str, ...] | None = None) -> list[Scenario]:
    """``count`` scenarios for ``seed``: archetypes first (seed-shuffled), then random combinations."""
    if count < 0:
        raise ValueError("count must not be negative")
    wards = wards or wards_with_nurses()
    if not wards:
        raise ValueError("no ward has both a nurse and a care team in the demo hospital")
    rng = random.Random(seed)
    kinds = _archetypes(wards)
    rng.shuffle(kinds)
    out = []
    for i in range(count):
        kind = kinds[i] if i < len(kinds) else _random_kind(rng, wards)
        ward = kind["ward"]
        radiologist = f"radiologist-{1 + rng.randrange(2)}"
        imaging = kind.get("imaging")
        out.append(Scenario(
            index=i, arrival=kind["arrival"], ward=ward, reason=rng.choice(REASONS.get(ward, ("observation",))),
            given=rng.choice(GIVEN), family=rng.choice(FAMILY),
            birth_date=f"{rng.randint(1935, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            gender=rng.choice(("female", "male", "other")),
            complaint=rng.choice(COMPLAINTS.get(ward, ("feeling unwell",))) if kind["arrival"] != "elective" else None,
            vitals=kind.get("vitals", "stable") if kind["arrival"] != "elective" else "stable",
            esi_override=bool(kind.get("esi_override")) and kind["arrival"] != "elective",
            imaging=replace(imaging, radiologist=radiologist) if imaging else None,
            medications=tuple(kind.get("medications", ())), psych_note=bool(kind.get("psych_note")),
            follow_up=kind.get("follow_up", True), settlement=kind.get("settlement", "paid")))
    return out


def bench_scenario(index: int, ward: str) -> Scenario:
    """The benchmark's fixed journey: elective admission, an imaging study, a one-dose course, discharge, billing."""
    return Scenario(index=index, arrival="elective", ward=ward, reason="benchmark admission", given="Bench",
                    family="Patient", birth_date="1970-01-01", gender="other",
                    imaging=replace(ABDOMEN_US, radiologist=f"radiologist-{1 + index % 2}"),
                    medications=(PARACETAMOL,), follow_up=False)


def mix(scenarios: list[Scenario]) -> dict[str, int]:
    """How many scenarios show each variant (for the summary and the tests)."""
    meds = [m for s in scenarios for m in s.medications]
    return {
        "ed": sum(s.ed for s in scenarios), "ed_intake": sum(s.arrival == "ed-intake" for s in scenarios),
        "elective": sum(not s.ed for s in scenarios), "imaging": sum(s.imaging is not None for s in scenarios),
        "no_imaging": sum(s.imaging is None for s in scenarios),
        "medications": sum(bool(s.medications) for s in scenarios),
        "no_medications": sum(not s.medications for s in scenarios),
        "interaction_or_allergy": sum(m in (ASPIRIN_OVER_WARFARIN, TRAMADOL_OVER_SSRI, AMOXICILLIN_ALLERGIC)
                                      for m in meds),
        "pharmacist_rejection": sum(m.verify == "reject" for m in meds),
        "psych_note": sum(s.psych_note for s in scenarios),
        "critical": sum(s.vitals == "critical" for s in scenarios),
        "wards": len({s.ward for s in scenarios}),
        "denied": sum(s.settlement == "denied" for s in scenarios),
    }
