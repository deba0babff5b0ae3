"""The ceiling measurement's scoring (eval/minors_ceiling.py). The learned model itself needs
scikit-learn (make eval-ceiling); what is tested here is how its scores become figures, and that
it reads only what the rules read."""

from __future__ import annotations

import dataclasses
from datetime import date

import minors_ceiling
import minors_eval


def test_operating_points_rank_by_score():
    # Ranked: M M A M A A. Recall >= 0.9 needs all 3 minors: first 4 people, precision 3/4.
    # Precision >= 0.8 holds for the first 2 (2/2) and not at 3/4: best recall 2/3.
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    minors = [True, True, False, True, False, False]
    precision, recall = minors_ceiling.operating_points(scores, minors, 0.9, 0.8)
    assert precision == 0.75
    assert recall == 2 / 3


def test_features_read_only_the_fields_the_rules_read():
    person = minors_eval.Person(
        pid=1, case="pupil", kind="pupil/GB", hard_negative=False, country="GB", today=date(2026, 5, 1),
        born=date(2011, 1, 1), name="A Name", job_title="Year 10  Pupil", company="n/a",
        email_domain="pupils.hillside.lancs.sch.uk", cues=frozenset({"job_title"}))
    feats = minors_ceiling.features(person)
    assert {"job_title:year", "job_title:10", "job_title:pupil", "job_title:year_10", "company:<blank>",
            "event_name:<blank>", "domain_first:pupils", "domain_last2:sch.uk",
            "domain_last3:lancs.sch.uk"} <= set(feats)
    assert {key.split(":")[0] for key in feats} <= {
        "job_title", "company", "email_domain", "event_name", "domain_first", "domain_last2", "domain_last3"}
    # Nothing of the label, the segment, the country, the name or the generator's cues.
    other = dataclasses.replace(person, case="ordinary", kind="ordinary/b2b", country="US", born=date(1980, 1, 1),
                                name="Other Person", cues=frozenset())
    assert minors_ceiling.features(other) == feats
