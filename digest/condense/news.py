"""How newsworthy a statement is, whatever the topic: who did what, figures, decisions, quotes.

    news = 0.30 per distinct figure that is not a bare year (at most 3), 0.1 for years
         + 0.07 per distinct name after the first word (at most 4)
         + 0.55 when it reports a decision (agreed, approved, signed, pledged ...), else
           0.35 when it reports an act or a change (cut, rose, launched, will pay ...)
         + 0.15 when it is attributed (said, told, according to)
         + 0.40 for the first sentence of an article (news puts the main fact first)
         + 0.20 when it is dated news (on Monday, this week, next year, by 2027)
         + 0.40 for a direct quote credited to a named speaker, saying something concrete (a figure,
           a name, an act)
         + 0.60 for the first paragraph of an article, 0.3 for the second, then less
         + 0.40 for the lead article (the one not reached through a related link)
         - 0.70 for background: history ("founded in", "for years"), biography ("a 52-year-old",
           "took over", "was born"), explanation ("is designed to", "works by"), what has gone on
           since a past year ("has tracked prices since 1988")
         - 0.50 for scene-setting and transitions (no figure, no name, no act: "the stakes are high")
         - 0.03 per word beyond 40

Every weight here is about the shape of news writing; nothing names a topic.
"""

from __future__ import annotations

import re

from digest.condense.text import TARGET_WORDS, figures, is_year, word_count

FIGURE_BONUS = 0.30
YEAR_BONUS = 0.10
MAX_FIGURES = 3
NAME_BONUS = 0.07
MAX_NAMES = 4
ACT_BONUS = 0.35
DECISION_BONUS = 0.55
DATED_BONUS = 0.20
QUOTE_BONUS = 0.40
REPORTED_BONUS = 0.15
LEDE_BONUS = 0.40
LEAD_PARAGRAPH_BONUS = 0.60
LEAD_ARTICLE_BONUS = 0.40
BACKGROUND_PENALTY = 0.70
VAGUE_PENALTY = 0.50
LONG_PENALTY_PER_WORD = 0.03

_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'&-]*[A-Za-z]|\b[A-Z]{2,}\b")
_MONTHS_AND_DAYS = frozenset(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "I"]
)
_ACT = re.compile(
    r"(?<!would )(?<!could )(?<!might )(?<!may )(?<!should )\b(?:launch\w+|"
    r"cut|cuts|rais\w+|rose|rises?|fell|falls?|dropp\w+|grew|grows|increas\w+|reduc\w+|slow\w+|climb\w+|"
    r"jump(?:s|ed)|doubl(?:es|ed)|block(?:s|ed)|accept(?:s|ed)|resign(?:s|ed)|fined|charged|arrest(?:s|ed)|"
    r"sued|won|lost|killed|warn(?:s|ed)|urg(?:es|ed)|revealed|reach(?:es|ed)|"
    r"publish\w+|releas\w+|invest\w*|spend|spent|build|fund\w*|pay|paid|deliver\w*)\b",
    re.IGNORECASE,
)
_DECISION = re.compile(
    r"(?<!would )(?<!could )(?<!might )(?<!may )(?<!should )(?<!to )"
    r"\b(?:agreed|agrees|approved|approves|announced|announces|confirmed|confirms|decided|decides|voted|votes|"
    r"signed|signs|pledged|pledges|committed|commits|ordered|orders|awarded|awards|cleared|clears|rejected|"
    r"rejects|appointed|appoints|banned|bans)\b",
    re.IGNORECASE,
)
_REPORTED = re.compile(r"\b(?:said|says|told|stated|according\s+to|estimat\w+|show(?:s|ed)?|found|expects?)\b", re.IGNORECASE)
_DATED = re.compile(
    r"\b(?:on|last|next|this|from|by|until|since)\s+(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|"
    r"week|month|year|January|February|March|April|May|June|July|August|September|October|November|December|"
    r"(?:19|20)\d\d)\b|\b(?:today|yesterday|tomorrow|tonight)\b",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"[\"“]([^\"“”]+)[\"”]")
_SPEAKER = re.compile(
    r"(?:\b(?:said|says|told|stated|added|warned|asserting|emphasi[sz]ed|according\s+to)\b|:\s*[\"“])",
    re.IGNORECASE,
)
_BACKGROUND = re.compile(
    r"\bfounded\s+in\b|\bwas\s+born\b|\bfor\s+(?:years|decades)\b|\b\d+-year-old\b|"
    r"\bwho\s+(?:previously|joined|grew\s+up|studied)\b|\btook\s+over\b|\bhas\s+been\s+\w+ing\s+(?:its|their|the)\b|"
    r"\bis\s+designed\s+to\b|\bworks\s+by\b|\bin\s+the\s+(?:19|20)\d0s\b|"
    r"\bha(?:s|ve)\s+(?:been\s+)?\w+(?:ed|ing)\b[^.]*\bsince\s+(?:19|20)\d\d\b",
    re.IGNORECASE,
)


def _names(sentence: str) -> int:
    found = {m[0] for m in _NAME.finditer(sentence)} - _MONTHS_AND_DAYS
    first = re.match(r"\W*([\w’'&-]+)", sentence)
    if first:
        found.discard(first.group(1))
    return len(found)


def _quoted_with_speaker(sentence: str) -> bool:
    """A direct quote, credited to a named speaker, whose words state something concrete (not only rhetoric)."""
    quoted = " ".join(_QUOTED.findall(sentence))
    concrete = bool(figures(quoted)) or _names(quoted) > 0 or _ACT.search(quoted) or _DECISION.search(quoted)
    return bool(quoted) and _SPEAKER.search(sentence) is not None and _names(sentence) > 0 and bool(concrete)


def newsworthiness(text: str, *, paragraph: int, first: bool, lead_article: bool) -> float:
    """The news score of a statement (see the module docstring); higher is more newsworthy."""
    stated = figures(text)
    amounts = [f for f in stated if not is_year(f)]
    years = len(stated) - len(amounts)
    names = _names(text)
    act = _ACT.search(text) is not None or _DECISION.search(text) is not None
    quoted = _quoted_with_speaker(text)
    score = (
        FIGURE_BONUS * min(len(amounts), MAX_FIGURES)
        + YEAR_BONUS * min(years, 1)
        + NAME_BONUS * min(names, MAX_NAMES)
        + (DECISION_BONUS if _DECISION.search(text) else ACT_BONUS if act else 0.0)
        + (REPORTED_BONUS if _REPORTED.search(text) else 0.0)
        + (LEDE_BONUS if first else 0.0)
        + (DATED_BONUS if _DATED.search(text) else 0.0)
        + (QUOTE_BONUS if quoted else 0.0)
        + LEAD_PARAGRAPH_BONUS / (1 + paragraph)
        + (LEAD_ARTICLE_BONUS if lead_article else 0.0)
        - LONG_PENALTY_PER_WORD * max(0, word_count(text) - TARGET_WORDS)
    )
    if _BACKGROUND.search(text):
        score -= BACKGROUND_PENALTY
    if not stated and not quoted and (names == 0 or not act):
        score -= VAGUE_PENALTY
    return score
