"""Find and redact special-category data (GDPR Art. 9 and 10) in free text before it is stored.

The privacy policy promises that no sensitive personal data about external
parties is held, so a prospect's ``notes``, ``job_title`` and ``company`` are
scanned and every hit is replaced before the row reaches the CRM. The rules
(keywords, regexes, exemptions, replacement) live in the ``special_category``
section of the policy file; this module only applies them.

Two stages:

1. A cheap pre-filter: one pre-compiled regex (stdlib ``re``) made of every
   keyword (as a prefix tree) and every pattern of every category. Most text
   never matches it, and then nothing else runs: no Presidio import, no
   Presidio call.
2. Only on a pre-filter match: one Presidio ``PatternRecognizer`` per category
   (built once per scanner, lazily) finds the spans, spans that lie inside an
   exemption ("Cancer Research UK", "Health & Safety") are dropped, and
   Presidio's ``AnonymizerEngine`` replaces the rest.

Presidio is imported at first use only, because this module is imported by
DAG parsing and by worker processes. The scanner pickles without any Presidio
object (for ``multiprocessing`` spawn workers) and rebuilds them on demand.

The scanned text is personal data by definition: it never goes into a log
record or an exception message raised here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_hygiene.policy import SpecialCategory

# Flags shared by the pre-filter (stdlib ``re``) and Presidio (``regex``), so
# that the pre-filter never rejects text that Presidio would match.
# (Presidio's default flags; the numeric values are the same in both modules.)
_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL
# Score given to a regex hit; a deny-list (keyword) hit scores 1.0. Any score
# above zero is redacted: scores only order overlapping hits.
_PATTERN_SCORE = 0.9


class SpecialCategoryError(RuntimeError):
    """The scan itself failed. The message never contains the scanned text."""


@dataclass(frozen=True)
class Redaction:
    """What ``SpecialCategoryScanner.redact`` found and the text to store instead."""

    text: str | None  # every hit replaced by the policy's replacement; None stays None
    categories: tuple[str, ...]  # categories that fired, sorted, de-duplicated

    @property
    def hit(self) -> bool:
        return bool(self.categories)


def _longest_first(phrases: Iterable[str]) -> list[str]:
    return sorted(set(phrases), key=lambda p: (-len(p), p.lower()))


def _fold(char: str) -> str:
    # Under IGNORECASE a character and its one-character lower case match the same text.
    lower = char.lower()
    return lower if len(lower) == 1 else char


def _phrase_regex(phrases: Iterable[str]) -> str:
    """Whole-word, case-insensitive regex for any of ``phrases``, as a prefix tree.

    It matches exactly where a longest-first alternation with Presidio's
    deny-list boundaries ``(?<!\\w)(?:a|b|...)(?!\\w)`` would, but shares
    common prefixes ("trade union", "trade union member", "trade unionist"), so
    each position costs one character test per level instead of one test per
    phrase. A space in a phrase matches any one whitespace character, as
    Presidio sees the text with every whitespace character read as a space
    (``_spaced``). Compile it with IGNORECASE.
    """
    trie: dict = {}
    for phrase in phrases:
        node = trie
        for char in phrase:
            node = node.setdefault(_fold(char), {})
        node[""] = {}  # a phrase ends here

    def emit(node: dict) -> str:
        branches = [(r"\s" if char == " " else re.escape(char)) + emit(child)
                    for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    # Before a word character, \b is (?<!\w); CPython's re factors a \b that
    # starts every alternative out of the alternation, which (?<!\w) defeats.
    lead = r"\b" if all(re.match(r"\w", p) for p in trie) else r"(?<!\w)"
    return lead + "(?:" + emit(trie) + r")(?!\w)"


_WHITESPACE = re.compile(r"\s")


def _spaced(text: str) -> str:
    """The text with each whitespace character (newline, tab, NBSP...) as a plain space.

    Same length, so every offset found in it is an offset in the original: a
    keyword "diagnosed with" then also matches across a line break.
    """
    return _WHITESPACE.sub(" ", text)


class _Engine:
    """The Presidio objects of one scanner: built at first hit, never pickled."""

    def __init__(self, rules: SpecialCategory) -> None:
        import regex  # Presidio's regex engine (a Presidio dependency)
        from presidio_analyzer import Pattern, PatternRecognizer
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig

        flags = regex.IGNORECASE | regex.MULTILINE | regex.DOTALL  # == _FLAGS, as the pre-filter's
        self.recognizers = []
        for name, rule in sorted(rules.categories.items()):
            keywords = list(rule.get("keywords", ()))
            patterns = [
                Pattern(name=f"{name}_{i}", regex=p, score=_PATTERN_SCORE)
                for i, p in enumerate(rule.get("patterns", ()))
            ]
            self.recognizers.append(PatternRecognizer(
                supported_entity=name.upper(),
                name=f"special_category_{name}",
                patterns=patterns,
                # Longest first: the deny list is one alternation and a regex
                # alternation takes the first branch that matches, so
                # "trade union member" must come before "trade union".
                deny_list=_longest_first(keywords) or None,
                global_regex_flags=flags,
            ))
        self.entities = {r.supported_entities[0]: r for r in self.recognizers}
        self.anonymizer = AnonymizerEngine()
        self.operators = {"DEFAULT": OperatorConfig("replace", {"new_value": rules.replacement})}


class SpecialCategoryScanner:
    """Scan free text for special-category data and redact every hit.

    ``rules`` is ``load_policy().special_category``. Instances are cheap to
    create (regex compilation only), safe to share between threads, and
    picklable.
    """

    def __init__(self, rules: SpecialCategory) -> None:
        self._rules = rules
        # The pre-filter: one regex for every keyword and pattern of every
        # category, keywords as one prefix tree, patterns as one group (so that
        # re can factor out a \b they all start with). Nine categories always
        # carry something (the policy model checks it); an empty alternation
        # would match everything, so guard anyway.
        parts: list[str] = []
        keywords = [k for rule in rules.categories.values() for k in rule.get("keywords", ())]
        if keywords:
            parts.append(_phrase_regex(keywords))
        patterns = [p for rule in rules.categories.values() for p in rule.get("patterns", ())]
        if patterns:
            parts.append("|".join(f"(?:{p})" for p in patterns))
        self._prefilter = re.compile("|".join(f"(?:{p})" for p in parts), _FLAGS) if parts else None
        self._exemptions = re.compile(_phrase_regex(rules.exemptions), _FLAGS) if rules.exemptions else None
        self._engine: _Engine | None = None

    @property
    def rules(self) -> SpecialCategory:
        return self._rules

    # -- pickling: rules only; regexes are recompiled, Presidio rebuilt on demand --
    def __getstate__(self) -> dict[str, Any]:
        return {"rules": self._rules}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["rules"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(categories={sorted(self._rules.categories)})"

    # -- scanning --
    def may_contain(self, text: str | None) -> bool:
        """The pre-filter alone: False means ``redact`` would return the text unchanged."""
        return bool(text) and self._prefilter is not None and self._prefilter.search(text) is not None

    def redact(self, text: str | None) -> Redaction:
        if text is None:
            return Redaction(None, ())
        if not isinstance(text, str):
            raise TypeError(f"redact() expects str or None, not {type(text).__name__}")
        if not self.may_contain(text):
            return Redaction(text, ())
        failure = None
        try:
            return self._redact_with_presidio(text)
        except Exception as exc:
            # Presidio's (or regex's) message might quote the text: keep only the type,
            # and raise outside this block so the original is not chained as __context__.
            failure = type(exc).__name__
        raise SpecialCategoryError(f"special-category scan failed ({failure}); the text is withheld")

    def _engine_or_build(self) -> _Engine:
        engine = self._engine
        if engine is None:
            engine = self._engine = _Engine(self._rules)
        return engine

    def _redact_with_presidio(self, text: str) -> Redaction:
        engine = self._engine_or_build()
        results = []
        spaced = _spaced(text)
        for entity, recognizer in engine.entities.items():
            results.extend(recognizer.analyze(spaced, entities=[entity]))
        if results and self._exemptions is not None:
            exempt = [m.span() for m in self._exemptions.finditer(text)]
            if exempt:
                results = [r for r in results if not any(s <= r.start and r.end <= e for s, e in exempt)]
        if not results:
            return Redaction(text, ())
        categories = tuple(sorted({r.entity_type.lower() for r in results}))
        anonymized = engine.anonymizer.anonymize(
            text=text, analyzer_results=_merge_overlaps(results), operators=engine.operators)
        return Redaction(anonymized.text, categories)


def _merge_overlaps(results: list) -> list:
    """Union overlapping spans, whatever their category.

    Presidio's anonymizer merges overlaps of one entity type and drops spans
    contained in another, but keeps two partially overlapping spans of
    different types, which would leave part of a hit in the text. The
    categories were taken before this step; the merged span keeps the type of
    its first part, which only matters for the operator (one replacement for all).
    """
    ordered = sorted(results, key=lambda r: (r.start, -r.end))
    merged = [ordered[0]]
    for r in ordered[1:]:
        last = merged[-1]
        if r.start < last.end:
            if r.end > last.end:
                last.end = r.end
        else:
            merged.append(r)
    return merged
