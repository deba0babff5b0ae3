"""Minor-detection evaluation: `make eval`.

Generates a labelled, synthetic set of people (seeded: the same ``--size`` and
``--seed`` give the same people), scores every one with the policy's rule set
(``crm_hygiene.minors.MinorRules`` on the ``minors:`` section of
``include/policy/privacy_policy.yaml``) and reports precision and recall per
kind of evidence, the false-positive rate of each kind of hard negative, and
the FP/FN patterns behind the numbers.

Ground truth
------------
``is_minor`` is the person's true age on the run's date (``today``) being
under 16 (the issue's definition; fixed here, not read from the policy, so a
policy change cannot move the labels). A person born on 29 February has their
birthday on 1 March in a common year (the UK convention). The label comes
from the persona's birth date only, never from what the rules see.

How the people are made
-----------------------
Personas are drawn from a description of the world, then scored; nothing in
the generator looks at the rules. Each person gets a run date ``today``
spread over 2026 (the pipeline runs every day, and a pupil's age within their
school year depends on the date), a country and a birth date, and only then
the record fields a CRM would hold: job title, company, email domain and
event name (names are Faker's; nothing here is real). The segments:

* ``pupil``: secondary (and a few primary) school pupils in GB, US, DE, FR, AU
  and NZ. The school year is drawn first (UK-equivalent Year 5-13, weighted
  towards Years 9-13, the ages that reach a B2B company through careers,
  work experience and web forms), the birth date follows from the country's
  school calendar (approximate cut-offs: 1 Sep for GB/US/DE, calendar year
  for FR and NZ, 1 Aug for AU), with 3% of pupils a year off their cohort.
  Titles, companies and domains then follow the pupil's country and stage
  ("Year 10 pupil", "GCSE student", "Sixth form student", "9th grade",
  "Schülerin", "Élève de 3e", "Lycéenne", or blank), with noise (case,
  whitespace, extra words, missing accents). Pupils in Years 12-13 (sixth
  form, US juniors/seniors, lycée) are mostly 16-18: they are labelled by
  their true age, i.e. as adults, whatever their title says.
* ``youth_event``: attendees of events for young people (careers fairs, STEM
  days, coding clubs), three quarters pupils of the event's age range and a
  quarter adults (teachers, STEM Ambassadors, employers, speakers, organisers,
  parents).
* ``work_experience``: pupils on a placement at an ordinary company.
* ``school_staff``: teachers, heads, bursars, IT technicians, governors and
  other staff at schools of every country above (hard negatives).
* ``education_adjacent``: adults near schools, students or youth: "Head of
  School Partnerships" and schools sales roles, staff of Student Loans
  Company, Unite Students and the Youth Hostel Association, university, MBA
  and PhD students, bootcamp/language-school learners, pupil barristers,
  youth workers, businesses with "school" in their name, and attendees of
  education-trade and youth-marketing events (all hard negatives).
* ``ordinary``: B2B contacts ("Marketing Manager", "CTO", ...), the majority
  of adults; some early-career ones ("Graduate Trainee", "Marketing Intern").
* ``age_given``: a person from any segment above whose record also holds a
  date of birth and/or a stated age. A stated age is sometimes stale (given
  at an event up to 18 months before the run), so it may understate the true
  age; given dates and ages are otherwise truthful (a lie about one's age is
  out of reach of any rule and is not modelled).
* ``age_edge``: the day before, of and after the 16th birthday, births on
  29 February around a leap-year birthday, stated ages 16, 15, 13 and 12,
  dates of birth giving exactly 13 and 12.

Evidence classes
----------------
A prediction is positive when the verdict is CERTAIN or LIKELY.

* ``date_of_birth_or_age``: every person whose record holds a date of birth
  or a stated age.
* ``job_title``, ``email_domain``, ``company``, ``youth_event`` (the
  ``event_name`` field): people with neither, whose field carries evidence:
  either the generator filled it from a school, pupil, student, placement,
  youth or education vocabulary (a "cue": school names and domains,
  universities, student and youth organisations, pupil/student/school-staff
  titles, youth and education events), or one of the policy's signal
  patterns matches it (even when adult markers outweigh it). A person with
  several such fields counts in each of their classes, judged by the one
  person-level verdict.
* ``all_signal_only``: every person with no date of birth or age who is in at
  least one field class. People with no evidence at all are left out (they
  can only be true negatives, or a minor no rule could see) and are reported
  as ``no_evidence`` (informational, no target).
* ``any_policy_signal`` (informational): the part of ``all_signal_only`` where
  at least one policy signal pattern matches; its recall against that of
  ``all_signal_only`` separates pattern gaps (nothing matched) from weights
  and thresholds (matched, but the score stayed under ``likely_score``).

Mix
---
The set over-represents the region around schools on purpose (about a third
of it is pupils, school staff and people near schools or youth): it is a
stress test of the hard cases, not a sample of a real CRM. Precision and
recall on ``all_signal_only`` therefore depend on the mix above; the per-kind
recall and false-positive rates are what carry over to real data.

Targets (from the issue): recall 1.0 on ``date_of_birth_or_age``; recall >= 0.9
and precision >= 0.8 on ``all_signal_only``. A missed target is FAIL and the
exit status is 1. Results also go to ``eval/out/minors_eval.md``.
``--policy PATH`` scores a draft policy file instead of the project's, so a
pattern change can be measured before it is proposed.
"""

from __future__ import annotations

import argparse
import random
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "eval" / "out"

DEFAULT_SIZE = 5_000
DEFAULT_SEED = 2026
# The definition of a minor: under 16 on the run's date.
MINOR_AGE = 16
# Run dates are spread over this year.
RUN_YEAR = 2026

# Targets from the issue.
MIN_RECALL_AGE = 1.0
MIN_RECALL_SIGNAL = 0.9
MIN_PRECISION_SIGNAL = 0.8

FIELDS = ("job_title", "company", "email_domain", "event_name")
FIELD_CLASS = {"job_title": "job_title", "company": "company", "email_domain": "email_domain",
               "event_name": "youth_event"}
CLASSES = ("date_of_birth_or_age", "job_title", "email_domain", "company", "youth_event", "all_signal_only",
           "any_policy_signal", "no_evidence", "everyone")
INFO_CLASSES = ("any_policy_signal", "no_evidence", "everyone")

# Share of the set per segment (age_edge is a fixed block scaled with size).
SEGMENTS = (
    ("ordinary", 0.34),
    ("pupil", 0.15),
    ("youth_event", 0.08),
    ("work_experience", 0.03),
    ("school_staff", 0.10),
    ("education_adjacent", 0.10),
    ("age_given", 0.18),
)

LOCALES = {"GB": "en_GB", "US": "en_US", "DE": "de_DE", "FR": "fr_FR", "AU": "en_AU", "NZ": "en_NZ"}
# School stage as a UK-equivalent year (Year 7 = first year of secondary, age 11-12 at the start).
STAGE_WEIGHTS = {5: 0.01, 6: 0.02, 7: 0.06, 8: 0.07, 9: 0.12, 10: 0.24, 11: 0.21, 12: 0.15, 13: 0.12}
FR_LABELS = {6: "CM2", 7: "6e", 8: "5e", 9: "4e", 10: "3e", 11: "2nde", 12: "1ère", 13: "Terminale"}

FREE_MAIL = {
    "GB": ("gmail.com", "hotmail.co.uk", "outlook.com", "yahoo.co.uk", "icloud.com", "btinternet.com"),
    "US": ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com"),
    "DE": ("gmx.de", "web.de", "gmail.com", "t-online.de"),
    "FR": ("gmail.com", "orange.fr", "free.fr", "laposte.net", "hotmail.fr"),
    "AU": ("gmail.com", "outlook.com", "bigpond.com"),
    "NZ": ("gmail.com", "xtra.co.nz", "outlook.com"),
}
CORP_TLD = {"GB": (".co.uk", ".com"), "US": (".com", ".io"), "DE": (".de", ".com"), "FR": (".fr", ".com"),
            "AU": (".com.au",), "NZ": (".co.nz",)}
SAINTS = ("Mary", "Joseph", "Peter", "Paul", "Anne", "John", "Thomas More", "Bede", "Augustine", "Margaret")
UK_LAS = ("lancs", "kent", "herts", "essex", "surrey", "bham", "leeds", "camden", "northyorks", "devon")
US_STATES = ("ca", "tx", "ny", "fl", "il", "oh", "pa", "mi", "nj", "wa", "va", "ma")
FR_ACADEMIES = ("versailles", "creteil", "paris", "lyon", "lille", "bordeaux", "nantes", "toulouse")
SUBJECTS = ("Maths", "English", "Science", "Computing", "History", "Geography", "French", "Art", "PE", "Music",
            "Physics", "Chemistry", "Biology", "Business Studies", "Design & Technology")
US_SUBJECTS = ("Math", "English", "Science", "Computer Science", "Social Studies", "Spanish", "Biology")

B2B_FUNCTIONS = ("Marketing", "Sales", "Product", "Finance", "Operations", "IT", "Engineering", "Customer Success",
                 "Procurement", "HR", "Data", "Digital", "Brand", "Partnerships", "Communications")
B2B_ROLES = ("Manager", "Director", "Executive", "Specialist", "Lead", "Analyst", "Coordinator", "Consultant",
             "Officer", "Associate")
B2B_SENIORITY = ("", "", "", "Senior ", "Junior ", "Lead ", "Principal ", "Global ", "Regional ", "Group ")
B2B_SINGLE = ("CEO", "CTO", "CFO", "COO", "CMO", "CIO", "Founder", "Co-Founder", "Managing Director", "Owner",
              "Software Engineer", "Data Scientist", "Solicitor", "Architect", "Paralegal", "UX Designer",
              "Copywriter", "Buyer", "Editor", "Accountant", "Product Owner", "Scrum Master", "Account Executive",
              "Business Development Representative", "Procurement Specialist", "Systems Administrator",
              "DevOps Engineer", "Head of IT", "IT Director", "Product Manager", "Growth Marketer",
              "Content Strategist", "Operations Manager", "HR Business Partner", "Office Manager", "Designer",
              "Web Developer", "Project Manager", "Sales Director", "VP Engineering", "Chief Revenue Officer")
B2B_EVENTS = ("Cloud Expo Europe {yr}", "Martech Summit London", "DevOps Days Berlin", "SaaStr Europa {yr}",
              "Data Innovation Summit", "Gartner IT Symposium", "Web Summit {yr}", "Infosecurity Europe",
              "Retail Technology Show", "Customer webinar: AI in the contact centre", "Partner Kick-off {yr}",
              "Salon VivaTech {yr}", "CeBIT Nachfolge-Forum", "Dreamforce {yr}", "Product roadshow Manchester")
GENERIC_SIGNUPS = ("Website newsletter", "Product webinar", "Free trial sign-up", "Open day", "Spring promotion")
PART_TIME_JOBS = ("Tesco", "McDonald's", "Greggs", "Starbucks", "Sainsbury's", "Local newsagent", "Aldi")

# Youth events: (name, country, youngest and oldest UK-equivalent year of the pupils who attend).
YOUTH_EVENTS = (
    ("Youth STEM Day {yr}", "GB", 7, 11),
    ("Schools Careers Fair", "GB", 10, 13),
    ("{city} Schools Careers Fair {yr}", "GB", 10, 13),
    ("National Schools Science Fair", "GB", 7, 13),
    ("GCSE Computer Science Revision Day", "GB", 10, 11),
    ("STEM for Girls Workshop", "GB", 8, 11),
    ("Junior Hackathon {yr}", "GB", 7, 11),
    ("Young Innovators Challenge", "GB", 9, 13),
    ("Digital Futures Day (ages 13-16)", "GB", 9, 11),
    ("Teen Tech Camp", "US", 8, 12),
    ("Kids Code Club", "US", 5, 8),
    ("Girls Who Code Summer Program", "US", 10, 13),
    ("Jugend forscht Regionalwettbewerb", "DE", 6, 13),
    ("Girls' Day {yr}", "DE", 6, 11),
    ("Youth Robotics Challenge", "NZ", 8, 12),
    ("Schools Coding Cup", "AU", 8, 13),
)
EDUCATION_EVENTS = ("Schools & Academies Show {yr}", "Bett {yr}", "Schools Tech Summit", "Education Business Awards",
                    "Independent Schools Bursars Conference", "K-12 EdTech Forum", "Schools Cyber Security Day")
YOUTH_INDUSTRY_EVENTS = ("WYSE Youth Travel Summit", "Youth Marketing Strategy Summit",
                         "Kids & Teens Marketing Forum", "Junior Developer Meetup", "Kids Brands Trade Fair",
                         "Youth Sport Trust Conference", "Gen Z & Youth Insights Day", "School Travel Forum")


# --------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------


@dataclass
class Person:
    pid: int
    case: str  # segment: pupil, youth_event, ..., age_given, age_edge
    kind: str  # finer: pupil/GB, hard_negative/student_loans_company, ...
    hard_negative: bool
    country: str
    today: date
    born: date
    name: str
    job_title: str | None = None
    company: str | None = None
    email_domain: str | None = None
    event_name: str | None = None
    date_of_birth: date | None = None
    age: int | None = None
    cues: frozenset[str] = frozenset()  # fields the generator filled from a school/youth/education vocabulary

    @property
    def true_age(self) -> int:
        return true_age(self.born, self.today)

    @property
    def is_minor(self) -> bool:
        return self.true_age < MINOR_AGE

    @property
    def age_known(self) -> bool:
        return self.date_of_birth is not None or self.age is not None

    def describe(self) -> str:
        parts = [f"{f}={getattr(self, f)!r}" for f in FIELDS if getattr(self, f)]
        if self.date_of_birth:
            parts.append(f"dob={self.date_of_birth}")
        if self.age is not None:
            parts.append(f"age_given={self.age}")
        return f"[true age {self.true_age}] " + (" ".join(parts) or "(no fields)")


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def true_age(born: date, today: date) -> int:
    """Whole years on `today`; a 29 February birthday falls on 1 March in a common year."""
    birthday = (born.month, born.day)
    if birthday == (2, 29) and not _is_leap(today.year):
        birthday = (3, 1)
    return today.year - born.year - ((today.month, today.day) < birthday)


def _years_before(day: date, years: int) -> date:
    year = day.year - years
    if (day.month, day.day) == (2, 29) and not _is_leap(year):
        return date(year, 3, 1)
    return date(year, day.month, day.day)


def _uniform_date(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _pick(rng: random.Random, weighted: Sequence[tuple[float, object]]):
    total = sum(w for w, _ in weighted)
    x = rng.random() * total
    for w, value in weighted:
        x -= w
        if x < 0:
            return value
    return weighted[-1][1]


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_text.lower() if c.isalnum())


def strip_accents(text: str) -> str:
    table = {"ü": "ue", "Ü": "Ue", "ö": "oe", "ä": "ae", "ß": "ss"}
    text = "".join(table.get(c, c) for c in text)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def noisy(rng: random.Random, text: str | None, p: float = 0.3) -> str | None:
    """Case and whitespace noise, as people type into forms."""
    if not text or rng.random() >= p:
        return text
    r = rng.random()
    if r < 0.3:
        text = text.lower()
    elif r < 0.45:
        text = text.upper()
    elif r < 0.6:
        text = text.title()
    if rng.random() < 0.3:
        text = "  " + text + " "
    if rng.random() < 0.2:
        text = text.replace(" ", "  ", 1)
    return text


@dataclass
class School:
    name: str
    domain: str  # the school's (or its district's / education department's) mail domain
    pupil_domain: str  # the domain pupils' addresses use, when they have one
    country: str


class World:
    """Faker and a seeded RNG, and the generators of each kind of person."""

    def __init__(self, seed: int) -> None:
        from faker import Faker

        self.rng = random.Random(seed)
        self.fake = Faker(list(LOCALES.values()))
        self.fake.seed_instance(seed)
        self.next_id = 0

    # -- helpers ---------------------------------------------------------------

    def f(self, country: str):
        return self.fake[LOCALES[country]]

    def run_date(self) -> date:
        return _uniform_date(self.rng, date(RUN_YEAR, 1, 1), date(RUN_YEAR, 12, 31))

    def born_aged(self, today: date, age: int) -> date:
        first = _years_before(today, age + 1) + timedelta(days=1)
        return _uniform_date(self.rng, first, _years_before(today, age))

    def person(self, case: str, kind: str, country: str, today: date, born: date, *, hard_negative: bool = False,
               job_title: str | None = None, company: str | None = None, email_domain: str | None = None,
               event_name: str | None = None, cues: set[str] | frozenset[str] = frozenset()) -> Person:
        self.next_id += 1
        return Person(self.next_id, case, kind, hard_negative, country, today, born, self.f(country).name(),
                      job_title, company, email_domain, event_name, cues=frozenset(cues))

    def free_mail(self, country: str) -> str:
        return self.rng.choice(FREE_MAIL[country])

    def corp_domain(self, company: str, country: str) -> str:
        words = [w for w in company.replace(",", " ").split() if w.lower() not in {"ltd", "plc", "gmbh", "ag", "sa",
                                                                                    "sarl", "inc", "llc", "and"}]
        return slug(" ".join(words[:2]) or company) + self.rng.choice(CORP_TLD[country])

    def company(self, country: str) -> str:
        return self.f(country).company()

    def town(self, country: str) -> str:
        return self.f(country).city()

    def event(self, template: str, country: str = "GB") -> str:
        return template.format(yr=RUN_YEAR, city=self.town(country))

    def b2b_title(self) -> str | None:
        rng = self.rng
        r = rng.random()
        if r < 0.08:
            return None
        if r < 0.45:
            return rng.choice(B2B_SINGLE)
        if r < 0.6:
            return f"Head of {rng.choice(B2B_FUNCTIONS)}"
        if r < 0.65:
            return f"VP {rng.choice(B2B_FUNCTIONS)}"
        return f"{rng.choice(B2B_SENIORITY)}{rng.choice(B2B_FUNCTIONS)} {rng.choice(B2B_ROLES)}"

    # -- schools -----------------------------------------------------------------

    def school(self, country: str, stage: int) -> School:
        rng, town, surname = self.rng, self.town(country), self.f(country).last_name()
        saint = rng.choice(SAINTS)
        if country == "GB":
            if stage <= 6:
                name = _pick(rng, [(4, f"{town} Primary School"), (2, f"St {saint}'s C of E Primary School"),
                                   (1, f"{town} Junior School"), (2, f"{town} Primary Academy")])
            else:
                options = [(22, f"{town} Academy"), (12, f"{town} High School"), (12, f"{town} School"),
                           (6, f"{town} Grammar School"), (7, f"St {saint}'s Catholic High School"),
                           (4, f"{town} Church of England Academy"), (4, f"Harris Academy {town}"),
                           (3, f"Ark {town} Academy"), (6, f"{town} College"), (3, f"{town} Secondary School"),
                           (3, f"{town} Free School"), (6, f"{surname} School"), (3, f"{town} High School for Girls"),
                           (3, f"{town} Upper School")]
                if stage <= 11:
                    options.append((6, f"{town} Community School"))
                else:
                    options += [(20, f"{town} Sixth Form College"), (10, f"{town} College of Further Education")]
                name = _pick(rng, options)
            base = slug(name.replace("School", "").replace("Academy", "") or name)
            if "Academy" in name or "College" in name:
                domain = _pick(rng, [(30, f"{base}.{rng.choice(UK_LAS)}.sch.uk"), (45, f"{base}.org.uk"),
                                     (10, f"{base}.academy"), (15, f"{base}.co.uk")])
            else:
                domain = _pick(rng, [(60, f"{base}.{rng.choice(UK_LAS)}.sch.uk"), (30, f"{base}.org.uk"),
                                     (10, f"{base}.co.uk")])
            return School(name, domain, _pick(rng, [(3, domain), (1, f"pupils.{domain}")]), country)
        if country == "US":
            if stage <= 6:
                name = f"{surname} Elementary School"
            elif stage <= 9:
                name = _pick(rng, [(3, f"{surname} Middle School"), (2, f"{town} Middle School"),
                                   (1, f"{town} Junior High School")])
            else:
                name = _pick(rng, [(5, f"{town} High School"), (2, f"{town} Senior High School"),
                                   (2, f"{surname} High School"), (1, f"{town} Preparatory Academy"),
                                   (1, f"{town} Academy")])
            district = slug(town)
            st = rng.choice(US_STATES)
            domain = _pick(rng, [(30, f"{district}.k12.{st}.us"), (25, f"{district}schools.org"),
                                 (15, f"{district}.org"), (10, f"{district}isd.net"), (10, f"{district}usd.net"),
                                 (10, f"{slug(name)}.org")])
            return School(name, domain, _pick(rng, [(1, domain), (1, f"students.{domain}")]), country)
        if country == "DE":
            if stage <= 5:
                name = f"Grundschule {town}"
            else:
                options = [(30, f"{surname}-Gymnasium"), (15, f"Gymnasium {town}"), (15, f"Gesamtschule {town}"),
                           (10, f"{surname}-Schule"), (5, f"Integrierte Gesamtschule {town}"),
                           (5, f"Stadtteilschule {town}")]
                if stage <= 11:
                    options += [(15, f"Realschule {town}"), (5, f"Oberschule {town}")]
                name = _pick(rng, options)
            base = slug(name)
            domain = _pick(rng, [(45, f"{base}.de"), (25, f"{base}.schule"), (15, f"{base}.schule.de"),
                                 (15, f"{base}.{slug(town)}.de")])
            return School(name, domain, domain, country)
        if country == "FR":
            person = self.f("FR").name()
            if stage <= 6:
                name = f"École élémentaire {person}"
            elif stage <= 10:
                name = f"Collège {person}"
            else:
                name = _pick(rng, [(3, f"Lycée {person}"), (1, f"Lycée général et technologique {person}"),
                                   (1, f"Lycée professionnel {person}")])
            academie = f"ac-{rng.choice(FR_ACADEMIES)}.fr"
            return School(name, academie, f"{slug(name)}.fr", country)
        if country == "AU":
            nsw = rng.random() < 0.55
            private = rng.random() < 0.2
            if stage <= 7:
                name = f"{town} Public School" if nsw else f"{town} State School"
            elif private:
                name = _pick(rng, [(1, f"{town} Anglican College"), (1, f"{surname} Catholic College"),
                                   (1, f"{town} Grammar School")])
            else:
                name = f"{town} High School" if nsw else f"{town} State High School"
            base = slug(town)
            if private:
                domain = f"{slug(name)}.{'nsw' if nsw else 'qld'}.edu.au"
                return School(name, domain, domain, country)
            if nsw:
                site = _pick(rng, [(1, f"{base}-h.schools.nsw.edu.au"), (1, f"{base}-h.schools.nsw.gov.au")])
                return School(name, "det.nsw.edu.au",
                              _pick(rng, [(3, "education.nsw.gov.au"), (2, site)]), country)
            domain = _pick(rng, [(1, "eq.edu.au"), (1, f"{base}shs.eq.edu.au")])
            return School(name, domain, domain, country)
        # NZ
        if stage <= 8:
            name = _pick(rng, [(2, f"{town} School"), (1, f"{town} Intermediate")])
        else:
            name = _pick(rng, [(35, f"{town} College"), (25, f"{town} High School"), (10, f"{town} Grammar School"),
                               (10, f"{town} Girls' High School"), (10, f"{town} Boys' High School"),
                               (10, f"St {saint}'s College")])
        domain = _pick(rng, [(80, f"{slug(name)}.school.nz"), (10, f"{slug(name)}.co.nz"),
                             (10, f"{slug(name)}.org.nz")])
        return School(name, domain, domain, country)

    # -- pupils ------------------------------------------------------------------

    def pupil_born(self, country: str, stage: int, today: date) -> date:
        """Birth date of a pupil in UK-equivalent Year `stage` on `today`, by the country's calendar."""
        rng = self.rng
        if rng.random() < 0.03:  # held back or moved up a year
            stage += rng.choice((-1, 1))
        academic = today.year if today.month >= 9 else today.year - 1
        if country in ("GB", "US", "DE"):
            first, last = date(academic - stage - 5, 9, 1), date(academic - stage - 4, 8, 31)
        elif country == "FR":
            first, last = date(academic - stage - 4, 1, 1), date(academic - stage - 4, 12, 31)
        elif country == "AU":  # local Year a = stage - 1, school year = calendar year, cut-off 31 July
            a = stage - 1
            first, last = date(today.year - a - 6, 8, 1), date(today.year - a - 5, 7, 31)
        else:  # NZ: local Year = stage, school year = calendar year
            first = date(today.year - stage - 4, 1, 1)
            last = date(today.year - stage - 4, 12, 31)
        return _uniform_date(rng, first, min(last, today - timedelta(days=365 * 4)))

    def stage(self, low: int = 5, high: int = 13) -> int:
        return _pick(self.rng, [(w, s) for s, w in STAGE_WEIGHTS.items() if low <= s <= high])

    def pupil_title(self, country: str, stage: int, school: School, female: bool) -> tuple[str | None, bool]:
        """A pupil's job title, and whether it carries a school cue."""
        rng = self.rng
        blanks = [(18, None), (3, ""), (2, "n/a"), (1, "-"), (1, "None")]
        if country == "GB":
            y = stage
            opts = [(10, "Student"), (6, "Pupil"), (8, f"Year {y} student"), (3, f"Yr {y} student"),
                    (2, f"Y{y}"), (3, "Secondary school student"), (2, "Schoolgirl" if female else "Schoolboy"),
                    (2, "School student"), (2, f"Student at {school.name}")]
            if y <= 11:
                opts.append((8, f"Year {y} pupil"))
            if y <= 6:
                opts.append((4, "Primary school pupil"))
            if 10 <= y <= 11:
                opts.append((6, "GCSE student"))
            if y >= 12:
                opts += [(6, "A-level student"), (7, "Sixth form student"), (3, "Sixth former"),
                         (2, f"Year {y} sixth form student")]
            if y == 13:
                opts.append((2, "Head Girl" if female else "Head Boy"))
            if y >= 11:
                opts += [(2, "Prefect"), (1, "Deputy Head Girl" if female else "Deputy Head Boy")]
            if y >= 9:
                opts += [(2, "Student Ambassador"), (2, "Aspiring Software Engineer")]
        elif country == "US":
            g = stage - 1
            ordinal = {1: "1st", 2: "2nd", 3: "3rd"}.get(g, f"{g}th")
            opts = [(10, "Student"), (5, f"{ordinal} grade student"), (2, f"{ordinal} grader"),
                    (2, f"{ordinal} grade"), (2, f"Grade {g} student")]
            if g >= 9:
                cls = {9: "Freshman", 10: "Sophomore", 11: "Junior", 12: "Senior"}[min(g, 12)]
                opts += [(6, "High school student"), (3, "HS student"), (3, cls), (2, f"{cls} at {school.name}"),
                         (1, "Student Body President"), (2, "Aspiring Engineer")]
            elif g >= 6:
                opts.append((4, "Middle school student"))
        elif country == "DE":
            k = stage - 1
            pupil = "Schülerin" if female else "Schüler"
            opts = [(10, pupil), (3, strip_accents(pupil)), (3, f"{pupil} der {k}. Klasse"),
                    (2, f"{pupil} (Klasse {k})"), (2, "Praktikantin" if female else "Praktikant")]
            if 8 <= k <= 10:
                opts.append((3, "Schülerpraktikantin" if female else "Schülerpraktikant"))
            if k >= 12:
                opts.append((3, "Abiturientin" if female else "Abiturient"))
        elif country == "FR":
            label = FR_LABELS.get(stage, "CM1")
            opts = [(8, "Élève"), (3, "Eleve"), (4, f"Élève de {label}")]
            if 7 <= stage <= 10:
                opts.append((4, "Collégienne" if female else "Collégien"))
            if stage >= 11:
                opts += [(4, "Lycéenne" if female else "Lycéen"), (2, "Lyceen")]
            if stage == 10:
                opts += [(2, "Stagiaire de 3e"), (2, "Stage d'observation de 3e")]
        else:  # AU, NZ
            n = stage - 1 if country == "AU" else stage
            opts = [(10, "Student"), (8, f"Year {n} student"), (3, f"Year {n}"), (2, f"Student at {school.name}"),
                    (2, "Student Leader")]
            if stage >= 8:
                opts += [(4, "High school student"), (2, "Secondary student")]
            if stage >= 12:
                opts += [(2, "Head Prefect"), (2, "Prefect")]
        title = _pick(rng, opts + blanks)
        if title in (None, "", "n/a", "-", "None"):
            return title, False
        cue = "Aspiring" not in title
        return noisy(rng, title), cue

    def pupil_fields(self, country: str, stage: int, today: date, born: date
                     ) -> tuple[School, dict[str, str | None], set[str]]:
        """Title, company and mail domain of a pupil, and which of them carry a school cue."""
        rng = self.rng
        school = self.school(country, stage)
        female = rng.random() < 0.5
        title, title_cue = self.pupil_title(country, stage, school, female)
        cues = {"job_title"} if title_cue else set()
        short = school.name.replace("High School", "HS").replace("Academy", "Acad.")
        company = _pick(rng, [(45, school.name), (30, None), (5, "n/a"), (3, "Student"), (3, "School"),
                              (4, "part-time"), (5, short), (5, f"{school.name}, {country}")])
        if company == "part-time":
            company = rng.choice(PART_TIME_JOBS) if true_age(born, today) >= 13 else None
        elif company in (school.name, short, "Student", "School") or (company and school.name in company):
            cues.add("company")
        r = rng.random()
        if r < 0.55:
            domain = self.free_mail(country)
        elif r < 0.9:
            domain = school.pupil_domain
            cues.add("email_domain")
        else:
            domain = None
        return school, {"job_title": title, "company": noisy(rng, company, 0.2), "email_domain": domain}, cues

    def pupil(self) -> Person:
        rng = self.rng
        country = _pick(rng, [(45, "GB"), (20, "US"), (10, "DE"), (8, "FR"), (9, "AU"), (8, "NZ")])
        today, stage = self.run_date(), self.stage()
        born = self.pupil_born(country, stage, today)
        _, fields, cues = self.pupil_fields(country, stage, today, born)
        event = rng.choice(GENERIC_SIGNUPS) if rng.random() < 0.08 else None
        kind = f"pupil/{country}" if cues else "pupil/no_cue"
        return self.person("pupil", kind, country, today, born, event_name=event, cues=cues, **fields)

    def youth_event(self) -> Person:
        rng = self.rng
        template, country, low, high = rng.choice(YOUTH_EVENTS)
        event = noisy(rng, self.event(template, country), 0.15)
        today = self.run_date()
        if rng.random() < 0.75:
            stage = self.stage(low, high)
            born = self.pupil_born(country, stage, today)
            school, fields, cues = self.pupil_fields(country, stage, today, born)
            # Event registrations: fewer pupil titles, more blanks and "Student".
            fields["job_title"], title_cue = _pick(rng, [(40, (None, False)), (25, ("Student", True)),
                                                         (10, ("n/a", False)),
                                                         (25, (fields["job_title"], "job_title" in cues))])
            cues = (cues - {"job_title"}) | ({"job_title"} if title_cue else set())
            return self.person("youth_event", "youth_event/pupil", country, today, born, event_name=event,
                               cues=cues | {"event_name"}, **fields)
        role = _pick(rng, [(8, "teacher"), (5, "volunteer"), (6, "employer"), (4, "speaker"), (3, "organiser"),
                           (2, "parent")])
        born = self.born_aged(today, rng.randint(22, 64))
        cues = {"event_name"}
        if role == "teacher":
            school = self.school(country, rng.randint(7, 13))
            title = _pick(rng, [(4, "Teacher"), (2, "Head of Careers"), (2, "Careers Lead"), (1, "Careers Adviser"),
                                (2, "Science Teacher"), (1, "Head of Computing"), (3, None)])
            company, domain = school.name, school.domain
            cues |= {"company", "email_domain"} | ({"job_title"} if title else set())
        else:
            title = {
                "volunteer": lambda: _pick(rng, [(4, "STEM Ambassador"), (3, "STEM Ambassador Coordinator"),
                                                 (2, "Volunteer"), (1, "Volunteer Mentor")]),
                "employer": lambda: _pick(rng, [(1, "Early Careers Manager"), (1, "Graduate Recruiter"),
                                                (1, "Apprenticeship Lead"), (1, "Talent Acquisition Partner"),
                                                (1, "Outreach Officer")]),
                "speaker": lambda: _pick(rng, [(2, "Software Engineer"), (1, "Data Scientist"), (1, "Founder"),
                                               (1, "Keynote Speaker"), (1, "Guest Speaker")]),
                "organiser": lambda: _pick(rng, [(2, "Event Coordinator"), (1, "Events Manager"),
                                                 (1, "Programme Lead"), (1, "Event Organiser")]),
                "parent": lambda: self.b2b_title() if rng.random() < 0.4 else None,
            }[role]()
            company = self.company(country) if role != "parent" or rng.random() < 0.3 else None
            domain = self.corp_domain(company, country) if company and rng.random() < 0.7 else self.free_mail(country)
        return self.person("youth_event", f"youth_event/adult_{role}", country, today, born, hard_negative=True,
                           job_title=noisy(rng, title), company=company, email_domain=domain, event_name=event,
                           cues=cues)

    def work_experience(self) -> Person:
        rng = self.rng
        country = _pick(rng, [(70, "GB"), (15, "DE"), (15, "FR")])
        today = self.run_date()
        if country == "GB":
            stage = _pick(rng, [(70, 10), (10, 11), (20, 12)])
            title = _pick(rng, [(12, "Work Experience"), (8, "Work Experience Student"), (6, "Work experience pupil"),
                                (5, "Work Experience Placement"), (5, f"Year {stage} Work Experience"),
                                (3, f"Work Experience (Year {stage})"), (4, "Intern"), (2, "Summer Intern"),
                                (3, "Student Intern"), (2, "Trainee"), (1, "Shadowing"),
                                (3, "Work Experience - Marketing")])
        elif country == "DE":
            stage = _pick(rng, [(70, 10), (30, 11)])
            title = _pick(rng, [(8, "Schülerpraktikant"), (6, "Praktikant"), (2, "Schülerpraktikum"), (2, "Schüler")])
        else:
            stage = 10
            title = _pick(rng, [(6, "Stagiaire de 3e"), (6, "Stagiaire"), (3, "Élève de 3e en stage"),
                                (3, "Stage d'observation")])
        born = self.pupil_born(country, stage, today)
        company = self.company(country)
        r = rng.random()
        cues = {"job_title"}
        if r < 0.35:
            domain = self.corp_domain(company, country)
        elif r < 0.9:
            domain = self.free_mail(country)
        else:
            domain = self.school(country, stage).pupil_domain
            cues.add("email_domain")
        return self.person("work_experience", f"work_experience/{country}", country, today, born,
                           job_title=noisy(rng, title), company=company, email_domain=domain, cues=cues)

    # -- adults ------------------------------------------------------------------

    def staff_title(self, country: str) -> str | None:
        rng = self.rng
        subject = rng.choice(SUBJECTS)
        if country == "GB":
            opts = [(10, "Teacher"), (12, f"{subject} Teacher"), (2, "Class Teacher"), (3, "Headteacher"),
                    (2, "Head Teacher"), (3, "Deputy Headteacher"), (3, "Assistant Headteacher"),
                    (4, f"Head of Year {rng.randint(7, 11)}"), (1, f"Head of Year {rng.randint(12, 13)}"),
                    (2, "Head of Sixth Form"), (1, "Sixth Form Administrator"), (4, f"Head of {subject}"),
                    (1, f"GCSE {subject} Teacher"), (1, "Pupil Premium Lead"), (2, "SENCO"), (3, "Bursar"),
                    (3, "School Business Manager"), (2, "Finance Officer"), (3, "IT Technician"),
                    (2, "Network Manager"), (1, "Data Manager"), (2, "Exams Officer"), (3, "Governor"),
                    (1, "Chair of Governors"), (5, "Teaching Assistant"), (2, "Learning Support Assistant"),
                    (2, "Cover Supervisor"), (1, "Librarian"), (2, "Receptionist"), (2, "Office Manager"),
                    (1, "Site Manager"), (1, "Caretaker"), (2, "Careers Lead"), (1, "Year 11 Progress Leader"),
                    (2, "Primary School Teacher"), (1, "Secondary School Teacher"), (1, "Lab Technician"),
                    (1, "School Nurse"), (1, "Matron"), (1, "Supply Teacher"), (2, "Principal"),
                    (1, "Executive Headteacher"), (5, None)]
        elif country == "US":
            s = rng.choice(US_SUBJECTS)
            opts = [(8, "Teacher"), (6, f"{s} Teacher"), (4, f"High School {s} Teacher"),
                    (3, f"{rng.randint(6, 8)}th Grade {s} Teacher"), (2, "Middle School Teacher"), (3, "Principal"),
                    (2, "Assistant Principal"), (2, "Superintendent"), (2, "School Counselor"),
                    (2, "Technology Coordinator"), (2, "Director of Technology"), (1, "Librarian"),
                    (2, "Paraprofessional"), (1, "Athletic Director"), (1, "Curriculum Director"),
                    (1, "Substitute Teacher"), (1, "Instructional Coach"), (4, None)]
        elif country == "DE":
            opts = [(6, "Lehrer"), (6, "Lehrerin"), (2, "Schulleiter"), (2, "Schulleiterin"), (2, "Studienrat"),
                    (2, "Studienrätin"), (1, "Oberstudienrat"), (2, "Sekretärin"), (1, "Hausmeister"),
                    (1, "IT-Administrator"), (1, "Schulsozialarbeiterin"), (3, None)]
        elif country == "FR":
            opts = [(5, "Professeur"), (3, "Professeure de mathématiques"), (3, "Enseignant"), (3, "Enseignante"),
                    (1, "Principal"), (1, "Principale adjointe"), (2, "Proviseur"), (1, "CPE"),
                    (1, "Documentaliste"), (1, "Gestionnaire"), (1, "Secrétaire"), (3, None)]
        else:
            n = rng.randint(7, 12) if country == "AU" else rng.randint(9, 13)
            opts = [(8, "Teacher"), (5, f"{subject} Teacher"), (2, "Head of Department"), (2, "Principal"),
                    (2, "Deputy Principal"), (2, f"Year {n} Coordinator"), (1, "Business Manager"),
                    (2, "Teacher Aide"), (1, "Careers Advisor"), (1, "ICT Manager"), (3, None)]
            if country == "NZ":
                opts += [(2, f"Year {n} Dean"), (1, "Dean")]
        return _pick(rng, opts)

    def school_staff(self) -> Person:
        rng = self.rng
        country = _pick(rng, [(55, "GB"), (20, "US"), (8, "NZ"), (8, "AU"), (5, "DE"), (4, "FR")])
        today = self.run_date()
        born = self.born_aged(today, rng.randint(22, 66))
        school = self.school(country, rng.choice((6, 8, 10, 12)))
        title = self.staff_title(country)
        cues = {"job_title"} if title else set()
        company = _pick(rng, [(85, school.name), (7, "trust"), (8, None)])
        if company == "trust":
            company = (f"{self.town(country)} Academy Trust" if country == "GB"
                       else f"{self.town(country)} Unified School District")
        if company:
            cues.add("company")
        r = rng.random()
        if r < 0.8:
            domain = school.domain
            cues.add("email_domain")
        else:
            domain = self.free_mail(country)
        r = rng.random()
        if r < 0.10:
            event = self.event(rng.choice(EDUCATION_EVENTS))
            cues.add("event_name")
        elif r < 0.15:
            event = self.event(rng.choice(YOUTH_EVENTS)[0])
            cues.add("event_name")
        else:
            event = None
        return self.person("school_staff", f"school_staff/{country}", country, today, born, hard_negative=True,
                           job_title=noisy(rng, title), company=noisy(rng, company, 0.15), email_domain=domain,
                           event_name=event, cues=cues)

    def education_adjacent(self) -> Person:
        kind = _pick(self.rng, [(12, "school_partnerships"), (10, "student_loans_company"), (7, "unite_students"),
                                (7, "youth_hostel_association"), (22, "university_student"), (6, "adult_learner"),
                                (5, "pupil_barrister"), (12, "education_event"), (10, "youth_industry_event"),
                                (5, "youth_worker"), (4, "school_named_business")])
        return getattr(self, f"_adj_{kind}")()

    def _adult(self, kind: str, country: str, ages: tuple[int, int], **fields) -> Person:
        today = self.run_date()
        born = self.born_aged(today, self.rng.randint(*ages))
        fields["job_title"] = noisy(self.rng, fields.get("job_title"))
        return self.person("education_adjacent", f"hard_negative/{kind}", country, today, born, hard_negative=True,
                           **fields)

    def _adj_school_partnerships(self) -> Person:
        rng = self.rng
        country = _pick(rng, [(70, "GB"), (30, "US")])
        title = _pick(rng, [(5, "Head of School Partnerships"), (3, "School Partnerships Manager"),
                            (2, "Schools Outreach Officer"), (2, "Schools Liaison Officer"),
                            (2, "Education Sales Executive (Schools)"), (2, "Account Manager - Schools"),
                            (1, "Head of Schools"), (2, "Schools Programme Lead"), (1, "School Engagement Coordinator"),
                            (1, "Director of K-12 Sales"), (1, "K-12 Account Executive")])
        cues = {"job_title"}
        if rng.random() < 0.2:
            company = f"University of {self.town(country)}"
            domain = f"{slug(company)}.{'ac.uk' if country == 'GB' else 'edu'}"
            cues |= {"company", "email_domain"}
        else:
            company = self.company(country) + rng.choice((" Learning", " Education", " EdTech", ""))
            domain = self.corp_domain(company, country)
        event = None
        if rng.random() < 0.3:
            event = self.event(rng.choice(EDUCATION_EVENTS))
            cues.add("event_name")
        return self._adult("school_partnerships", country, (24, 62), job_title=title, company=company,
                           email_domain=domain, event_name=event, cues=cues)

    def _adj_student_loans_company(self) -> Person:
        rng = self.rng
        title, title_cue = _pick(rng, [(3, ("Customer Service Adviser", False)), (2, ("Software Engineer", False)),
                                       (2, ("Data Analyst", False)), (1, ("Product Owner", False)),
                                       (2, ("Caseworker", False)), (2, ("Student Finance Adviser", True)),
                                       (1, ("Contact Centre Agent", False)), (1, ("Head of Digital", False)),
                                       (1, ("Fraud Investigator", False)), (1, ("Business Analyst", False)),
                                       (1, (None, False))])
        company = _pick(rng, [(5, "Student Loans Company"), (2, "Student Loans Company Ltd"),
                              (1, "The Student Loans Company"), (1, "SLC - Student Loans Company"),
                              (1, "Student Finance England")])
        domain = _pick(rng, [(6, "slc.co.uk"), (1, "studentfinanceengland.co.uk"), (2, self.free_mail("GB"))])
        cues = {"company"} | ({"job_title"} if title_cue else set()) | ({"email_domain"} if domain
                                                                         not in FREE_MAIL["GB"] else set())
        return self._adult("student_loans_company", "GB", (21, 64), job_title=title, company=company,
                           email_domain=domain, cues=cues)

    def _adj_unite_students(self) -> Person:
        rng = self.rng
        title, title_cue = _pick(rng, [(2, ("Student Experience Manager", True)), (2, ("Accommodation Officer", False)),
                                       (1, ("Student Ambassador", True)), (1, ("Resident Ambassador", False)),
                                       (2, ("Property Manager", False)), (1, ("Lettings Coordinator", False)),
                                       (1, ("Marketing Executive", False)), (1, ("Night Security", False)),
                                       (1, (None, False))])
        company = _pick(rng, [(5, "Unite Students"), (2, "Unite Students Ltd"), (1, "Unite Group")])
        domain = _pick(rng, [(4, "unitestudents.com"), (2, "unite-group.co.uk"), (1, self.free_mail("GB"))])
        cues = {"company"} | ({"job_title"} if title_cue else set()) | ({"email_domain"} if domain
                                                                         not in FREE_MAIL["GB"] else set())
        ages = (19, 26) if title == "Student Ambassador" else (21, 64)
        return self._adult("unite_students", "GB", ages, job_title=title, company=company, email_domain=domain,
                           cues=cues)

    def _adj_youth_hostel_association(self) -> Person:
        rng = self.rng
        title, title_cue = _pick(rng, [(2, ("Hostel Manager", False)), (2, ("Duty Manager", False)),
                                       (1, ("Marketing Executive", False)), (1, ("Groups Sales Coordinator", False)),
                                       (1, ("Youth Groups Coordinator", True)), (1, ("Receptionist", False)),
                                       (1, ("Chef", False)), (1, ("Volunteer", False)), (1, (None, False))])
        company = _pick(rng, [(4, "Youth Hostel Association"), (3, "YHA"), (2, "YHA (England & Wales)"),
                              (1, "Scottish Youth Hostels Association"), (1, "Hostelling International")])
        domain = _pick(rng, [(5, "yha.org.uk"), (1, "syha.org.uk"), (1, "hihostels.com"), (2, self.free_mail("GB"))])
        cues = {"company"} | ({"job_title"} if title_cue else set()) | ({"email_domain"} if domain
                                                                         not in FREE_MAIL["GB"] else set())
        event = None
        if rng.random() < 0.15:
            event = self.event(rng.choice(("School Travel Forum", "WYSE Youth Travel Summit")))
            cues.add("event_name")
        return self._adult("youth_hostel_association", "GB", (19, 66), job_title=title, company=company,
                           email_domain=domain, event_name=event, cues=cues)

    def _adj_university_student(self) -> Person:
        rng = self.rng
        country = _pick(rng, [(55, "GB"), (20, "US"), (15, "DE"), (10, "FR")])
        title, ages = _pick(rng, [
            (5, ("PhD Student", (22, 36))), (3, ("PhD Candidate", (22, 36))), (2, ("Doctoral Researcher", (23, 36))),
            (4, ("MBA Student", (25, 40))), (2, ("MBA Candidate", (25, 40))), (3, ("MSc Student", (21, 30))),
            (3, ("Graduate Intern", (21, 26))), (2, ("Graduate Student", (21, 30))), (2, ("Undergraduate", (18, 23))),
            (6, ("Student", (18, 25))), (2, ("Final Year Student", (20, 24))),
            (3, ("Computer Science Student", (18, 24))), (2, ("Research Student", (22, 32))),
            (2, ("Student Intern", (19, 24))), (2, ("Summer Intern", (19, 23))), (1, ("Student Ambassador", (18, 23))),
            (1, ("Law Student", (18, 25))), (1, ("Medical Student", (18, 27))), (1, ("Étudiant", (18, 25))),
            (2, ("Werkstudent", (19, 28))), (1, ("Masterstudent", (21, 28)))])
        city = self.town(country)
        if country == "GB":
            company = _pick(rng, [(5, f"University of {city}"), (3, f"{city} University"),
                                  (1, "Imperial College London"), (1, "University College London"),
                                  (1, "London School of Economics"), (1, "London Business School"),
                                  (1, "Warwick Business School"), (1, "Saïd Business School"),
                                  (1, f"{city} Business School"), (1, f"School of Computing, University of {city}"),
                                  (1, f"{city} Medical School")])
            domain = _pick(rng, [(3, f"{slug(city)}.ac.uk"), (2, f"student.{slug(city)}.ac.uk"),
                                 (2, self.free_mail(country))])
        elif country == "US":
            company = _pick(rng, [(3, f"University of {city}"), (2, f"{city} State University"),
                                  (1, f"{city} School of Business"), (1, f"{city} Law School")])
            domain = _pick(rng, [(4, f"{slug(city)}.edu"), (2, self.free_mail(country))])
        elif country == "DE":
            company = _pick(rng, [(2, f"Universität {city}"), (2, f"Technische Universität {city}"),
                                  (1, f"Hochschule {city}")])
            domain = _pick(rng, [(3, f"uni-{slug(city)}.de"), (1, f"tu-{slug(city)}.de"), (2, self.free_mail(country))])
        else:
            company = _pick(rng, [(2, f"Université de {city}"), (1, "Sciences Po"), (1, "HEC Paris"),
                                  (1, f"École de commerce de {city}")])
            domain = _pick(rng, [(3, f"etu.{slug(city)}.fr"), (2, self.free_mail(country))])
        cues = {"job_title", "company"} | ({"email_domain"} if domain not in FREE_MAIL[country] else set())
        return self._adult("university_student", country, ages, job_title=title, company=company,
                           email_domain=domain, cues=cues)

    def _adj_adult_learner(self) -> Person:
        rng = self.rng
        city = self.town("GB")
        company = _pick(rng, [(2, "Flatiron School"), (1, "Holberton School"), (2, f"{city} Language School"),
                              (1, f"{city} School of English"), (2, "Le Wagon"), (1, "Makers Academy"),
                              (1, f"{city} Coding School"), (1, f"{city} Driving School")])
        title, title_cue = _pick(rng, [(5, ("Student", True)), (3, ("Software Engineering Student", True)),
                                       (2, ("Bootcamp Student", True)), (2, ("Learner", True)),
                                       (1, ("Career Changer", False)), (2, ("Trainee Developer", True)),
                                       (3, (None, False))])
        domain = self.free_mail("GB") if rng.random() < 0.7 else self.corp_domain(company, "GB")
        cues = {"company"} | ({"job_title"} if title_cue else set())
        return self._adult("adult_learner", "GB", (19, 50), job_title=title, company=company, email_domain=domain,
                           cues=cues)

    def _adj_pupil_barrister(self) -> Person:
        rng = self.rng
        title = _pick(rng, [(6, "Pupil Barrister"), (2, "Pupil"), (1, "Pupil Barrister (Criminal)"),
                            (1, "Second Six Pupil")])
        surname = self.f("GB").last_name()
        company = _pick(rng, [(1, f"{surname} Chambers"), (1, f"{rng.randint(1, 40)} {surname} Row Chambers")])
        return self._adult("pupil_barrister", "GB", (23, 35), job_title=title, company=company,
                           email_domain=f"{slug(surname)}chambers.co.uk")

    def _adj_education_event(self) -> Person:
        rng = self.rng
        country = "GB"
        event = self.event(rng.choice(EDUCATION_EVENTS))
        cues = {"event_name"}
        r = rng.random()
        if r < 0.5:
            school = self.school(country, rng.choice((6, 8, 10, 12)))
            title, company, domain = self.staff_title(country), school.name, school.domain
            cues |= {"company", "email_domain"} | ({"job_title"} if title else set())
        else:
            company = self.company(country) + rng.choice((" Learning", " Education", " Ltd", ""))
            title = self.b2b_title() if r < 0.9 else None
            domain = self.corp_domain(company, country)
        return self._adult("education_event", country, (23, 65), job_title=title, company=company,
                           email_domain=domain, event_name=event, cues=cues)

    def _adj_youth_industry_event(self) -> Person:
        rng = self.rng
        country = _pick(rng, [(60, "GB"), (25, "US"), (15, "DE")])
        event = self.event(rng.choice(YOUTH_INDUSTRY_EVENTS))
        title = _pick(rng, [(85, self.b2b_title()), (10, None), (3, "Junior Developer"), (2, "Junior Designer")])
        company = self.company(country)
        return self._adult("youth_industry_event", country, (22, 64), job_title=title, company=company,
                           email_domain=self.corp_domain(company, country), event_name=event, cues={"event_name"})

    def _adj_youth_worker(self) -> Person:
        rng = self.rng
        town = self.town("GB")
        company = _pick(rng, [(2, f"{town} Youth Trust"), (2, f"YMCA {town}"), (1, "The Scout Association"),
                              (1, "Girlguiding"), (1, "The Prince's Trust"), (1, f"{town} Youth Club"),
                              (1, "Youth Sport Trust")])
        title = _pick(rng, [(3, "Youth Worker"), (1, "Senior Youth Worker"), (1, "Youth Engagement Officer"),
                            (1, "Programme Manager"), (1, "Fundraising Manager"), (1, "Volunteer Coordinator"),
                            (1, "Scout Leader"), (1, "Youth Mentor")])
        cues = {"company", "job_title", "email_domain"}
        event = None
        if rng.random() < 0.2:
            event = self.event(rng.choice(YOUTH_EVENTS)[0])
            cues.add("event_name")
        return self._adult("youth_worker", "GB", (19, 64), job_title=title, company=company,
                           email_domain=f"{slug(company)}.org.uk", event_name=event, cues=cues)

    def _adj_school_named_business(self) -> Person:
        rng = self.rng
        surname = self.f("GB").last_name()
        company = _pick(rng, [(1, f"{surname} School Photography"), (1, "Schoolwear Solutions Ltd"),
                              (1, "School Improvement Partners Ltd"), (1, "School Trips Direct"),
                              (1, f"{surname} School of Dance")])
        title = _pick(rng, [(85, self.b2b_title()), (15, None)])
        return self._adult("school_named_business", "GB", (22, 66), job_title=title, company=company,
                           email_domain=self.corp_domain(company, "GB"), cues={"company"})

    def ordinary(self) -> Person:
        rng = self.rng
        country = _pick(rng, [(40, "GB"), (25, "US"), (12, "DE"), (10, "FR"), (7, "AU"), (6, "NZ")])
        today = self.run_date()
        company = self.company(country)
        event = self.event(rng.choice(B2B_EVENTS)) if rng.random() < 0.35 else None
        domain = self.free_mail(country) if rng.random() < 0.15 else self.corp_domain(company, country)
        if rng.random() < 0.08:
            title = _pick(rng, [(3, "Marketing Intern"), (3, "Graduate Trainee"), (2, "Apprentice Software Developer"),
                                (2, "Graduate Analyst"), (2, "Summer Intern"), (2, "Apprentice"),
                                (2, "Placement Student"), (1, "Industrial Placement Student")])
            ages = (16, 24) if title.startswith("Apprentice") else (19, 26)
            born = self.born_aged(today, rng.randint(*ages))
            return self.person("ordinary", "hard_negative/early_career", country, today, born, hard_negative=True,
                               job_title=noisy(rng, title), company=company, email_domain=domain, event_name=event,
                               cues={"job_title"})
        born = self.born_aged(today, rng.randint(21, 67))
        return self.person("ordinary", "ordinary/b2b", country, today, born, job_title=noisy(rng, self.b2b_title()),
                           company=company, email_domain=domain, event_name=event)

    def age_given(self) -> Person:
        rng = self.rng
        base: Person = _pick(rng, [(35, self.pupil), (15, self.youth_event), (5, self.work_experience),
                                   (10, self.school_staff), (10, self.education_adjacent), (25, self.ordinary)])()
        base.case, base.kind, base.hard_negative = "age_given", f"age_given/{base.kind}", False
        how = _pick(rng, [(50, "dob"), (30, "age"), (20, "both")])
        if how in ("dob", "both"):
            base.date_of_birth = base.born
        if how in ("age", "both"):
            captured = base.today
            if rng.random() < 0.3:  # stated at an event some months before the run
                captured = base.today - timedelta(days=rng.randint(30, 540))
            base.age = true_age(base.born, captured)
        return base

    def age_edges(self, reps: int) -> list[Person]:
        """Birthdays, leap days and exact ages around the policy's limits."""
        people = []

        def add(kind: str, born: date, today: date, how: str) -> None:
            p = self.person("age_edge", f"age_edge/{kind}", "GB", today, born, job_title=self.b2b_title())
            if how in ("dob", "both"):
                p.date_of_birth = born
            if how in ("age", "both"):
                p.age = true_age(born, today)
            people.append(p)

        for _ in range(reps):
            today = self.run_date()
            sixteenth = _years_before(today, 16)
            add("dob_day_before_16th_birthday", sixteenth + timedelta(days=1), today, "dob")
            add("dob_on_16th_birthday", sixteenth, today, "dob")
            add("dob_day_after_16th_birthday", sixteenth - timedelta(days=1), today, "dob")
            leap = self.rng.choice((2024, 2028))
            add("leap_born_day_before_16th", date(leap - 16, 2, 29), date(leap, 2, 28), "dob")
            add("leap_born_on_16th", date(leap - 16, 2, 29), date(leap, 2, 29), "dob")
            add("leap_born_day_after_16th", date(leap - 16, 2, 29), date(leap, 3, 1), "dob")
            add("leap_born_13_common_year_feb28", date(2012, 2, 29), date(2025, 2, 28), "dob")
            add("leap_born_13_common_year_mar1", date(2012, 2, 29), date(2025, 3, 1), "dob")
            for years in (16, 15, 13, 12):
                add(f"stated_age_{years}", self.born_aged(today, years), today, "age")
            for years in (13, 12):
                add(f"dob_exactly_{years}", _years_before(today, years), today, "dob")
        return people


def generate(size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED) -> list[Person]:
    """The labelled set: `size` people (the age edge block included), the same for the same seed."""
    world = World(seed)
    reps = max(1, round(size * 0.02 / 14))
    people = world.age_edges(reps)
    remaining = max(0, size - len(people))
    counts = [round(remaining * share) for _, share in SEGMENTS]
    counts[0] += remaining - sum(counts)
    for (segment, _), count in zip(SEGMENTS, counts, strict=True):
        make: Callable[[], Person] = getattr(world, segment)
        people.extend(make() for _ in range(count))
    return people


# --------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------


@dataclass
class Stats:
    name: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, minor: bool, flagged: bool) -> None:
        if minor:
            if flagged:
                self.tp += 1
            else:
                self.fn += 1
        elif flagged:
            self.fp += 1
        else:
            self.tn += 1

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def positives(self) -> int:  # true minors
        return self.tp + self.fn

    @property
    def negatives(self) -> int:
        return self.fp + self.tn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.positives if self.positives else None


@dataclass
class KindStats:
    kind: str
    hard_negative: bool
    n: int = 0
    minors: int = 0
    flagged_minors: int = 0
    flagged_adults: int = 0
    signals: Counter = field(default_factory=Counter)  # rules that fired on flagged adults

    @property
    def adults(self) -> int:
        return self.n - self.minors

    @property
    def fp_rate(self) -> float | None:
        return self.flagged_adults / self.adults if self.adults else None

    @property
    def recall(self) -> float | None:
        return self.flagged_minors / self.minors if self.minors else None


@dataclass
class Pattern:
    outcome: str  # FP or FN
    kind: str
    signals: str
    count: int
    examples: list[str]


@dataclass
class Target:
    name: str
    value: float | None
    threshold: float

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value + 1e-12 >= self.threshold

    @property
    def description(self) -> str:
        shown = "n/a" if self.value is None else f"{self.value:.3f}"
        return f"{self.name} = {shown} (target >= {self.threshold})"


@dataclass
class Report:
    size: int
    seed: int
    policy: str  # the policy file scored
    classes: dict[str, Stats]
    kinds: dict[str, KindStats]
    targets: list[Target]
    fp_patterns: list[Pattern]
    fn_patterns: list[Pattern]

    @property
    def failed_targets(self) -> list[str]:
        return [t.description for t in self.targets if not t.passed]

    @property
    def targets_met(self) -> bool:
        return not self.failed_targets

    @property
    def hard_negatives(self) -> dict[str, KindStats]:
        return {k: v for k, v in self.kinds.items() if v.hard_negative}


def ensure_import_path() -> None:
    """Make `crm_hygiene` importable without relying on the caller's PYTHONPATH."""
    for entry in (REPO_ROOT, REPO_ROOT / "plugins"):
        if str(entry) not in sys.path:
            sys.path.insert(0, str(entry))


def _patterns(outcomes: list[tuple[Person, str]], limit: int = 12, examples: int = 3) -> list[tuple[str, str, int,
                                                                                                     list[str]]]:
    groups: dict[tuple[str, str], list[Person]] = defaultdict(list)
    for person, signals in outcomes:
        groups[(person.kind, signals)].append(person)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:limit]
    return [(kind, signals, len(people), [p.describe() for p in people[:examples]])
            for (kind, signals), people in ranked]


def matched_signals(p: Person, rules) -> list:
    """The policy signals whose patterns match `p`, even where adult markers outweigh them."""
    return [s for s in rules.signals if getattr(p, s.field) and s.regex.search(getattr(p, s.field))]


def evidence_classes(p: Person, matched: list) -> set[str]:
    """The field classes `p` counts in: fields with a generator cue or a matching policy signal."""
    return {FIELD_CLASS[f] for f in p.cues} | {FIELD_CLASS[s.field] for s in matched}


def signal_only(people: list[Person], rules) -> list[Person]:
    """The ``all_signal_only`` class: no date of birth or age, and evidence in at least one field."""
    return [p for p in people if not p.age_known and evidence_classes(p, matched_signals(p, rules))]


def evaluate(size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED, policy_path: str | Path | None = None) -> Report:
    """Generate `size` labelled people with `seed`, score them with the policy's rules, and check the targets.

    `policy_path` scores a draft policy file instead of the project's own (default).
    """
    ensure_import_path()
    from crm_hygiene.minors import NOT_A_MINOR, MinorRules
    from crm_hygiene.policy import load_policy

    rules = MinorRules(load_policy(policy_path).minors)
    policy = str(policy_path) if policy_path else "include/policy/privacy_policy.yaml"
    people = generate(size, seed)
    classes = {name: Stats(name) for name in CLASSES}
    kinds: dict[str, KindStats] = {}
    false_pos: list[tuple[Person, str]] = []
    false_neg: list[tuple[Person, str]] = []
    for p in people:
        a = rules.assess(today=p.today, date_of_birth=p.date_of_birth, age=p.age, job_title=p.job_title,
                         company=p.company, email_domain=p.email_domain, event_name=p.event_name)
        flagged = a.verdict != NOT_A_MINOR
        minor = p.is_minor
        classes["everyone"].add(minor, flagged)
        matched = matched_signals(p, rules)
        evidence = evidence_classes(p, matched)
        if p.age_known:
            classes["date_of_birth_or_age"].add(minor, flagged)
        elif evidence:
            classes["all_signal_only"].add(minor, flagged)
            for name in evidence:
                classes[name].add(minor, flagged)
            if matched:
                classes["any_policy_signal"].add(minor, flagged)
        else:
            classes["no_evidence"].add(minor, flagged)
        if flagged:
            fired = ",".join(a.signals)
        else:
            fired = ",".join(s.name for s in matched) + (" matched, score below likely_score" if matched else "")
        if flagged and not minor:
            false_pos.append((p, fired or "-"))
        elif minor and not flagged:
            false_neg.append((p, fired or "no signal"))
        if not p.age_known:
            ks = kinds.setdefault(p.kind, KindStats(p.kind, p.hard_negative))
            ks.n += 1
            ks.minors += minor
            ks.flagged_minors += minor and flagged
            if flagged and not minor:
                ks.flagged_adults += 1
                ks.signals.update(a.signals)
    targets = [
        Target("date_of_birth_or_age recall", classes["date_of_birth_or_age"].recall, MIN_RECALL_AGE),
        Target("all_signal_only recall", classes["all_signal_only"].recall, MIN_RECALL_SIGNAL),
        Target("all_signal_only precision", classes["all_signal_only"].precision, MIN_PRECISION_SIGNAL),
    ]
    return Report(size=len(people), seed=seed, policy=policy, classes=classes, kinds=dict(sorted(kinds.items())), targets=targets,
                  fp_patterns=[Pattern("FP", *row) for row in _patterns(false_pos)],
                  fn_patterns=[Pattern("FN", *row) for row in _patterns(false_neg)])


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


CLASS_COLUMNS = ("class", "persons", "minors", "adults", "TP", "FP", "FN", "TN", "precision", "recall")
KIND_COLUMNS = ("kind", "persons", "minors", "flagged minors", "recall", "flagged adults", "FP rate")
HN_COLUMNS = ("hard-negative kind", "persons", "FP", "FP rate", "signals on the FPs")


def class_rows(report: Report) -> list[list[str]]:
    rows = []
    for name, s in report.classes.items():
        label = f"{name} (info)" if name in INFO_CLASSES else name
        rows.append([label, str(s.n), str(s.positives), str(s.negatives), str(s.tp), str(s.fp), str(s.fn), str(s.tn),
                     _fmt(s.precision), _fmt(s.recall)])
    return rows


def kind_rows(report: Report) -> list[list[str]]:
    return [[k.kind, str(k.n), str(k.minors), str(k.flagged_minors), _fmt(k.recall), str(k.flagged_adults),
             _fmt(k.fp_rate)] for k in report.kinds.values()]


def hard_negative_rows(report: Report) -> list[list[str]]:
    return [[k.kind, str(k.adults), str(k.flagged_adults), _fmt(k.fp_rate),
             ", ".join(f"{s} x{c}" for s, c in k.signals.most_common()) or "-"]
            for k in report.hard_negatives.values()]


def text_table(columns: Sequence[str], rows: list[list[str]]) -> str:
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
    line = lambda cells: "  ".join(  # noqa: E731
        cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths, strict=True)))
    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def markdown_table(columns: Sequence[str], rows: list[list[str]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    return "\n".join(["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
                      *("| " + " | ".join(esc(c) for c in r) + " |" for r in rows)])


def _pattern_lines(patterns: list[Pattern]) -> list[str]:
    lines = []
    for pat in patterns:
        lines.append(f"  {pat.count:>4}  {pat.kind}  [{pat.signals}]")
        lines.extend(f"          e.g. {ex}" for ex in pat.examples)
    return lines


def print_report(report: Report) -> None:
    print(f"Minor-detection evaluation: {report.size} generated people, seed {report.seed}, policy {report.policy}; "
          "positive = CERTAIN or LIKELY")
    print()
    print(text_table(CLASS_COLUMNS, class_rows(report)))
    print()
    print("Targets")
    for t in report.targets:
        marker = "  <<< FAIL" if not t.passed else ""
        print(f"  {'PASS' if t.passed else 'FAIL':<4}  {t.description}{marker}")
    print()
    print("Hard negatives (no date of birth or age given)")
    print(text_table(HN_COLUMNS, hard_negative_rows(report)))
    print()
    print("Every kind of person (no date of birth or age given)")
    print(text_table(KIND_COLUMNS, kind_rows(report)))
    print()
    print("False positives, most frequent (kind [rules that fired])")
    print("\n".join(_pattern_lines(report.fp_patterns)) or "  none")
    print()
    print("False negatives, most frequent (kind [signals matched])")
    print("\n".join(_pattern_lines(report.fn_patterns)) or "  none")


def write_markdown(report: Report) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / "minors_eval.md"

    def pattern_md(patterns: list[Pattern]) -> list[str]:
        out = []
        for pat in patterns:
            out.append(f"- **{pat.count}** `{pat.kind}` [{pat.signals}]")
            out.extend(f"  - `{ex}`" for ex in pat.examples)
        return out or ["- none"]

    lines = [
        "## Minor-detection evaluation",
        "",
        f"`make eval`: {report.size} generated (synthetic) people, seed {report.seed}, policy `{report.policy}`. "
        "A prediction is positive when the verdict is CERTAIN or LIKELY; a person is a minor when their true age "
        "on the run's date is under 16. See `eval/minors_eval.py` for how the set is made and how people are "
        "assigned to classes.",
        "",
        markdown_table(CLASS_COLUMNS, class_rows(report)),
        "",
        "| target | result |",
        "| --- | --- |",
        *(f"| {t.description} | **{'PASS' if t.passed else 'FAIL'}** |" for t in report.targets),
        "",
        "### Hard negatives (no date of birth or age given)",
        "",
        markdown_table(HN_COLUMNS, hard_negative_rows(report)),
        "",
        "### Every kind of person (no date of birth or age given)",
        "",
        markdown_table(KIND_COLUMNS, kind_rows(report)),
        "",
        "### False positives, most frequent",
        "",
        *pattern_md(report.fp_patterns),
        "",
        "### False negatives, most frequent",
        "",
        *pattern_md(report.fn_patterns),
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="people to generate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="default: %(default)s")
    parser.add_argument("--policy", help="score a draft policy file instead of include/policy/privacy_policy.yaml")
    args = parser.parse_args(argv)
    report = evaluate(args.size, args.seed, args.policy)
    print_report(report)
    path = write_markdown(report)
    print(f"\nMarkdown written to {path.relative_to(REPO_ROOT)}", file=sys.stderr)
    if not report.targets_met:
        print("Targets missed: " + "; ".join(report.failed_targets), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
