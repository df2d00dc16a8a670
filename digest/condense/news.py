"""How newsworthy a statement is, whatever the topic: who did what, figures, decisions, quotes.

A statement is news only when it carries at least one element of news: an amount (a figure that
is not a bare year, "a fifth", "five to four") or a record ("the highest"), an act, decision or
announced intention ("cut", "approved", "will pay", "plans to"), a claim credited to someone
("..., the agency said"), or a date in the days of the edition ("on Monday", "this week"). What carries none is
scene-setting or a transition ("the stakes are high"; a date in a scene does not count: "At King's
Cross on Friday evening, commuters hurried ...") and goes in no section. So does background,
whatever it carries: a recap of an earlier story ("The vote came two days after ..."), biography ("Kogan, a 67-year-old media executive who ..."), history (a past
told through years before last year, "were introduced in 2015", "since 1972", unless it measures
today's news against it: "the largest since 2013"), and what an institution is ("employs about
2,500 people", "was founded in 1975").

The news score of the rest:

    news = 0.30 per distinct amount (at most 3), 0.1 for years
         + 0.07 per distinct name after the first word (at most 4)
         + 0.55 when it reports a decision (agreed, approved, signed, pledged ...), else
           0.35 when it reports an act, a change or an announced intention (cut, rose, launched,
           will pay, plans to ...)
         + 0.15 when it is attributed (said, told, according to)
         + 0.20 when it is dated news (on Monday, this week, next year, by 2027)
         + 0.40 for a direct quote credited to a named speaker, saying something concrete (a figure,
           a name, an act)
         + 0.40 for the article's first statement (news puts the main fact first)
         + 0.60 for the paragraph holding it, 0.3 for the next, then less (inverted pyramid)
         + 0.40 for the lead article (the one not reached through a related link)
         - 0.50 when it is vague: no figure, no concrete quote, and no act by a named actor
         - 0.03 per word beyond 40

Every weight and pattern here is about the shape of news writing; nothing names a topic.
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
VAGUE_PENALTY = 0.50
LONG_PENALTY_PER_WORD = 0.03
RECENT_YEARS = 2  # this year and last: a year before that dates history, not today's news

_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'&-]*[A-Za-z]|\b[A-Z]{2,}\b")
_MONTHS_AND_DAYS = frozenset(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "I"]
)
_NOT_MODAL = r"(?<!would )(?<!could )(?<!might )(?<!may )(?<!should )"
_ACT = re.compile(
    _NOT_MODAL + r"\b(?:launch\w+|"
    r"cut|cuts|rais\w+|rose|rises?|fell|falls?|dropp\w+|grew|grows|increas\w+|reduc\w+|slow\w+|climb\w+|"
    r"jump(?:s|ed)|doubl(?:es|ed)|halv(?:es|ed)|tripl(?:es|ed)|surg(?:es|ed)|soar(?:s|ed)|slump(?:s|ed)|"
    r"plung(?:es|ed)|tumbl(?:es|ed)|widen(?:s|ed)|narrow(?:s|ed)|expand(?:s|ed)|shr[ai]nk|shrinks|hit|hits|"
    r"topped|beat|miss(?:es|ed)|recorded|posted|reported|"
    r"block(?:s|ed)|accept(?:s|ed)|resign(?:s|ed)|quit|fired|sacked|hired|elected|chose|selected|"
    r"fined|charged|arrest(?:s|ed)|convicted|jailed|sentenced|acquitted|sued|won|wins|lost|loses|killed|"
    r"warn(?:s|ed)|urg(?:es|ed)|call(?:s|ed)\s+(?:for|on)|demand(?:s|ed)|threaten(?:s|ed)|revealed|"
    r"reach(?:es|ed)|secur(?:es|ed)|unveil(?:s|ed)|propos(?:es|ed)|introduc(?:es|ed)|scrap(?:s|ped)|"
    r"delay(?:s|ed)|postpon(?:es|ed)|cancel(?:s|led|ed)|extend(?:s|ed)|open(?:s|ed)|clos(?:es|ed)|"
    r"bought|buys|sold|sells|acquir(?:es|ed)|merg(?:es|ed)|recommend(?:s|ed)|endors(?:es|ed)|back(?:s|ed)|"
    r"grant(?:s|ed)|publish\w+|releas\w+|invest\w*|spend|spent|build|built|fund\w*|pay|paid|deliver\w*|"
    r"offered|ruled|upheld|upholds?|appeals|appealed|banned|suspend(?:s|ed)|struck|"
    r"walk\s+out|began|begins|start(?:s|ed)|designated|licensed?|order(?:s|ed)|"
    r"(?:is|are|was|were)\s+(?:expected|set|due|likely)\s+to|plans?\s+to|planned\s+to|intends?\s+to|"
    r"will(?:\s+not)?\s+(?:\w+ly\s+)?[a-z]+|(?:said|says|announced)\s+(?:it|they|he|she|we)\s+would)\b",
    re.IGNORECASE,
)
_DECISION = re.compile(
    _NOT_MODAL + r"(?<!to )"
    r"\b(?:agreed|agrees|approved|approves|announced|announces|confirmed|confirms|decided|decides|voted|votes|"
    r"signed|signs|pledged|pledges|committed|commits|ordered|orders|awarded|awards|cleared|clears|rejected|"
    r"rejects|appointed|appoints|banned|bans|ruled|rules|recommended|recommends)\b",
    re.IGNORECASE,
)
_REPORTED = re.compile(
    r"\b(?:said|says|say|told|stated|argued|argues|claimed|maintained|insisted|according\s+to|estimat\w+|"
    r"show(?:s|ed)?|found|expects?)\b",
    re.IGNORECASE,
)
_DATED = re.compile(
    r"\b(?:on|last|next|this|from|by|until|since)\s+(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|"
    r"week|month|year|January|February|March|April|May|June|July|August|September|October|November|December|"
    r"(?:19|20)\d\d)\b|\b(?:today|yesterday|tomorrow|tonight)\b",
    re.IGNORECASE,
)
# In news copy a weekday is always one of the last few days ("was accused Wednesday").
_TODAY = re.compile(
    r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b|"
    r"\b(?:this|last)\s+week\b|\b(?:today|yesterday|tonight)\b",
    re.IGNORECASE,
)
# Amounts written in words, and measures against the past: news elements as much as a figure is.
_WORDED_AMOUNT = re.compile(
    r"\b(?:a|one|two|three|four|five|six|seven|eight|nine|ten)[\s-]+(?:half|third|quarter|fifth|tenth)s?\b|"
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|"
    r"thousands?|millions?|billions?|dozens?|half|twice|doubled?|tripled?)\b|"
    r"\b(?:record|highest|lowest|largest|biggest|smallest|fastest|slowest|first\s+time|all-time)\b",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"[\"“]([^\"“”]+)[\"”]")
_SPEAKER = re.compile(
    r"(?:\b(?:said|says|told|stated|added|warned|asserting|emphasi[sz]ed|according\s+to)\b|:\s*[\"“])",
    re.IGNORECASE,
)
_SAYS = re.compile(r"\b(?:said|says|told|added|warned|stated)\b", re.IGNORECASE)
# Who someone is, rather than what they did: "Kogan, a 67-year-old ...", "Cook, who succeeded ...".
_PROFILE_OPENING = re.compile(r"^(?:[A-Z][\w’'.-]+\s+){0,3}[A-Z][\w’'.-]+,\s+(?:a|an|who)\s")
_BIOGRAPHY = re.compile(
    r"\bwas\s+born\b|\bgrew\s+up\b|\bbegan\s+(?:his|her|their)\s+career\b|\btrained\s+as\b|"
    r"\bwho\s+(?:previously|joined|grew\s+up|studied|succeeded)\b|\btook\s+over\b",
    re.IGNORECASE,
)
# What an institution is or how something works, rather than what happened; an approximate share in
# the present simple ("make up about 45% of all fares") describes how things are.
_DESCRIPTION = re.compile(
    r"\b(?:was|were)\s+(?:founded|set\s+up|established|created|privati[sz]ed|introduced)\b|"
    r"\b(?:makes?\s+up|accounts?\s+for)\s+(?:about|around|roughly|some|nearly|almost|approximately)\b|"
    r"\bfounded\s+in\b|\bemploys\s+(?:about\s+|around\s+|some\s+|roughly\s+|nearly\s+|more\s+than\s+|over\s+)?\d|"
    r"\bis\s+designed\s+to\b|\bworks\s+by\b|\b(?:is|are)\s+used\s+to\b|"
    r"\bfor\s+(?:years|decades)\b|\bha(?:s|ve)\s+long\b|\blong\s+been\b|\bonce\s+\w+ed\b|"
    r"\bha(?:s|ve)\s+(?:been\s+)?\w+(?:ed|ing)\b[^.]*\bsince\s+(?:19|20)\d\d\b",
    re.IGNORECASE,
)
# A side clause dating something long ago: "The factory, which opened in 2015, has built ...".
_SIDE_CLAUSE = re.compile(r",\s+(?:which|who)\s+[^,]*,")
# Neither an indirect question nor an opening time clause states the act of a statement: "economists
# are divided on how far rates will fall", "As the clean-up begins, questions are being asked ...".
_SUBORDINATE = re.compile(r"\b(?:how|whether)\b[^,.;]*|^(?:As|While|When|Once)\b[^,]*,", re.IGNORECASE)
# A recap of an earlier story ("The decision comes days after lenders agreed ..."): told before, by the
# story it points to.
_RECAP = re.compile(
    r"\b(?:comes?|came)\s+(?:(?:just|only|a|one|two|three|few|several|days?|weeks?|months?|hours?)\s+){0,3}"
    r"(?:after|before)\b",
    re.IGNORECASE,
)
# Colour: "At King's Cross on Friday evening, commuters hurried ...": a date there dates a scene, not news.
_SCENE_OPENING = re.compile(
    r"^(?:At|Outside|Inside|Near|Beside|Along|On\s+(?:a|an))\b[^,]{0,80},"
)
_YEAR_MENTION = re.compile(r"\b(?:1[89]|20)\d\d(?:s\b)?")
# Today's news measured against the past: "the largest since 2013", "for the first time since 2022".
_COMPARISON = re.compile(
    r"\b(?:\w+est|first|most|least|record|lowest|highest|r[io]sen?|f[ae]ll(?:en)?|doubled|halved|tripled|"
    r"increased|grown|dropped|climbed)\b[^.;]{0,60}?\b(?:since|in)\s+(?:early\s+|late\s+|mid-)?"
    r"(?:\w+\s+)?(?:1[89]|20)\d\d\b",
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


def _amounts(text: str) -> list[str]:
    return [f for f in figures(text) if not is_year(f)]


def is_background(text: str, year: int) -> bool:
    """Whether a statement tells who someone is, what something is, or what happened long ago.

    Whatever its shape, a statement dated in the days of the edition ("on Monday", "this week") is news,
    unless it recaps another story.
    """
    if _RECAP.search(text):
        return True
    if _TODAY.search(text):
        return False
    if _PROFILE_OPENING.match(text) and not _SAYS.search(text):
        return True
    if _BIOGRAPHY.search(text) or _DESCRIPTION.search(text):
        return True
    without_comparisons = _COMPARISON.sub(" ", text)
    for clause in _SIDE_CLAUSE.finditer(without_comparisons):
        main = without_comparisons.replace(clause[0], ",")
        if _old_years(clause[0], year) and _DECISION.search(main) is None:
            return True
    return bool(_old_years(without_comparisons, year)) and not _amounts(without_comparisons)


def _old_years(text: str, year: int) -> list[int]:
    return [int(m[0][:4]) for m in _YEAR_MENTION.finditer(text) if int(m[0][:4]) <= year - RECENT_YEARS]


def _acts(text: str) -> bool:
    main = _SUBORDINATE.sub(" ", text)
    return _ACT.search(main) is not None or _DECISION.search(main) is not None


def states_news(text: str) -> bool:
    """Whether a statement carries an element of news: an amount, an act or intention, a claim credited to someone."""
    return (
        bool(_amounts(text))
        or _WORDED_AMOUNT.search(text) is not None
        or _acts(text)
        or _REPORTED.search(text) is not None
        or (_TODAY.search(text) is not None and _SCENE_OPENING.match(text) is None)
    )


def newsworthiness(text: str, *, depth: int, lede: bool, lead_article: bool) -> float:
    """The news score of a statement (see the module docstring); higher is more newsworthy."""
    stated = figures(text)
    amounts = [f for f in stated if not is_year(f)]
    years = len(stated) - len(amounts)
    names = _names(text)
    act = _acts(text)
    quoted = _quoted_with_speaker(text)
    score = (
        FIGURE_BONUS * min(len(amounts), MAX_FIGURES)
        + YEAR_BONUS * min(years, 1)
        + NAME_BONUS * min(names, MAX_NAMES)
        + (DECISION_BONUS if _DECISION.search(text) else ACT_BONUS if act else 0.0)
        + (REPORTED_BONUS if _REPORTED.search(text) else 0.0)
        + (LEDE_BONUS if lede else 0.0)
        + (DATED_BONUS if _DATED.search(text) else 0.0)
        + (QUOTE_BONUS if quoted else 0.0)
        + LEAD_PARAGRAPH_BONUS / (1 + depth)
        + (LEAD_ARTICLE_BONUS if lead_article else 0.0)
        - LONG_PENALTY_PER_WORD * max(0, word_count(text) - TARGET_WORDS)
    )
    if not stated and not quoted and (names == 0 or not act):
        score -= VAGUE_PENALTY
    return score
