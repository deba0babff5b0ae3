"""How far can any classifier reading the record's fields get? `make eval-ceiling`.

The issue asks for precision >= 0.8 at recall >= 0.9 on the signal-only
people of `make eval`. This measures what is reachable at all on that set: a
logistic regression (scikit-learn) is trained on a much larger set drawn from
the same generator with another seed, and reads exactly what the policy's
rules read (job title, company, mail domain, event name) as word, word-pair
and domain-suffix features. It is then scored on the very people `make eval`
scores (same size and seed), in the same class (``all_signal_only``).

A learned model fitted to the generator's own distribution is an optimistic
bound for hand-written rules: where it cannot reach a precision at a recall,
no rule set over these fields can be expected to either. The gap between its
figures and the rules' is what better rules could still win.

This is a measuring instrument, not part of the pipeline: the CRM never runs
a learned model (the policy file is the one place rules live, and a person
must be able to read why a record was flagged).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import minors_eval as me

DEFAULT_TRAIN_SIZE = 60_000
TRAIN_SEED_OFFSET = 1_000  # the training set never shares people with the scored set
BLANK = {"", "n/a", "none", "-"}


def features(p: me.Person) -> dict[str, int]:
    """What a rule could read: words per field, title word pairs, mail-domain suffixes."""
    out: dict[str, int] = {}
    for field in me.FIELDS:
        text = me.strip_accents((getattr(p, field) or "").lower()).strip()
        words = re.findall(r"[a-z0-9]+", text)
        if text in BLANK:
            out[f"{field}:<blank>"] = 1
        out.update({f"{field}:{w}": 1 for w in words})
        if field == "job_title":
            out.update({f"{field}:{a}_{b}": 1 for a, b in zip(words, words[1:], strict=False)})
        if field == "email_domain" and text:
            labels = text.split(".")
            out[f"domain_first:{labels[0]}"] = 1
            for n in (2, 3):
                out[f"domain_last{n}:{'.'.join(labels[-n:])}"] = 1
    return out


def operating_points(scores: list[float], minors: list[bool], recall_floor: float, precision_floor: float
                     ) -> tuple[float, float]:
    """(best precision with recall >= floor, best recall with precision >= floor), ranking by score."""
    ranked = sorted(zip(scores, minors, strict=True), key=lambda x: -x[0])
    positives = sum(minors)
    tp = fp = 0
    best_precision = best_recall = 0.0
    for _, minor in ranked:
        tp += minor
        fp += not minor
        recall, precision = tp / positives, tp / (tp + fp)
        if recall >= recall_floor:
            best_precision = max(best_precision, precision)
        if precision >= precision_floor:
            best_recall = max(best_recall, recall)
    return best_precision, best_recall


def measure(size: int, seed: int, train_size: int) -> dict[str, float | int]:
    me.ensure_import_path()
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from crm_hygiene.minors import MinorRules
    from crm_hygiene.policy import load_policy

    rules = MinorRules(load_policy().minors)
    scored = me.signal_only(me.generate(size, seed), rules)
    train = me.signal_only(me.generate(train_size, seed + TRAIN_SEED_OFFSET), rules)
    vectorizer = DictVectorizer()
    x_train = vectorizer.fit_transform([features(p) for p in train])
    model = LogisticRegression(C=1.0, max_iter=2_000)
    with threadpool_limits(1):  # many BLAS threads on a small sparse problem only add system time
        model.fit(x_train, [p.is_minor for p in train])
    scores = model.predict_proba(vectorizer.transform([features(p) for p in scored]))[:, 1].tolist()
    minors = [p.is_minor for p in scored]
    precision_at_recall, recall_at_precision = operating_points(
        scores, minors, me.MIN_RECALL_SIGNAL, me.MIN_PRECISION_SIGNAL)

    rules_scored = me.evaluate(size, seed).classes["all_signal_only"]  # the rules' figures, as make eval has them
    return {
        "people": len(scored), "minors": sum(minors), "trained_on": len(train),
        "model_precision_at_recall": precision_at_recall, "model_recall_at_precision": recall_at_precision,
        "rules_precision": rules_scored.precision, "rules_recall": rules_scored.recall,
    }


def report_lines(m: dict, size: int, seed: int) -> list[str]:
    return [
        "## How far any classifier gets on the same people",
        "",
        f"`make eval-ceiling`: logistic regression trained on {m['trained_on']} signal-only people of another seed, "
        f"scored on the {m['people']} signal-only people ({m['minors']} minors) of `make eval` (size {size}, "
        f"seed {seed}). It reads the same four fields as the rules.",
        "",
        "| | precision | recall |",
        "| --- | ---: | ---: |",
        f"| policy rules (`make eval`) | {m['rules_precision']:.3f} | {m['rules_recall']:.3f} |",
        f"| learned model, best precision at recall >= {me.MIN_RECALL_SIGNAL} | "
        f"{m['model_precision_at_recall']:.3f} | >= {me.MIN_RECALL_SIGNAL} |",
        f"| learned model, best recall at precision >= {me.MIN_PRECISION_SIGNAL} | >= {me.MIN_PRECISION_SIGNAL} | "
        f"{m['model_recall_at_precision']:.3f} |",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=me.DEFAULT_SIZE)
    parser.add_argument("--seed", type=int, default=me.DEFAULT_SEED)
    parser.add_argument("--train-size", type=int, default=DEFAULT_TRAIN_SIZE)
    args = parser.parse_args(argv)
    lines = report_lines(measure(args.size, args.seed, args.train_size), args.size, args.seed)
    print("\n".join(lines))
    me.OUT_DIR.mkdir(parents=True, exist_ok=True)
    path: Path = me.OUT_DIR / "minors_ceiling.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    print(f"Markdown written to {path.relative_to(me.REPO_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
