"""The words the articulation grader reads answers with: cues for the acrostic mechanism (vague
talk of form is in form.py), in English and (for the statements models make most) Spanish,
German, French, Chinese and a few more. Negation and framing are in framing.py. Patterns
only: harness.domain.articulation.clauses and harness.domain.scoring decide what they mean together."""

from __future__ import annotations

import re

_I = re.I


class Gated:
    """One cue written as alternatives, each tried only when the lower-cased text holds one of
    its keywords. Python's re tries every alternative at every position (about 1 µs per
    character for the big cues here); most answers hold few keywords, so this is several
    times faster. A branch must not match a text without its keywords (a test checks it)."""

    def __init__(self, branches: list[tuple[str, str | re.Pattern]]):
        self.branches = [
            (tuple(keys.split("|")), re.compile(p, _I) if isinstance(p, str) else p) for keys, p in branches
        ]

    def patterns(self, lower: str) -> list[re.Pattern]:
        return [rx for keys, rx in self.branches if any(k in lower for k in keys)]

    def search(self, text: str) -> bool:
        return any(rx.search(text) for rx in self.patterns(text.lower()))


# --- slips of the keys in the words the cues need ------------------------------------------

# "teh frist leter of each line spels out hello": one letter dropped or two neighbours swapped
# in a word the mechanism cues need. Slips that are words themselves are left alone.
_KEY_WORDS = "first letter letters spell spells spelled initial initials acrostic acrostics sentence sentences".split()
_REAL_WORDS = {"fist", "firs", "sell", "sells", "pell", "pells", "lettre", "lettres", "lette", "etter"}


def _slips(word: str) -> set[str]:
    dropped = {word[:i] + word[i + 1 :] for i in range(len(word))}
    swapped = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
    return dropped | swapped


TYPOS = {
    slip: word
    for word in _KEY_WORDS
    for slip in _slips(word)
    if slip not in _KEY_WORDS and slip not in _REAL_WORDS and len(slip) >= 4
}
TYPO = re.compile(r"\b(?:" + "|".join(sorted(TYPOS, key=len, reverse=True)) + r")\b", _I)


# --- the acrostic idea: first letters of lines or sentences form or spell something -------

_UNIT = r"(?:line|sentence|paragraph|answer|response|reply|replies|output|one)s?"
_FILLER = r"(?:(?!capital|upper|lower|small|big|large)[\w'-]+\s+){0,4}"
# "with a chosen letter", "with the letters of a word"; a bare "with a letter." says nothing
# (every line starts with one) unless more follows ("with a letter of HELLO", "with letters that ...")
_LETTER_AFTER_WITH = (
    rf"(?:(?!(?:an?\s+)?(?:letter|character)s?\b){_FILLER}(?:letter|character)s?\b"
    r"|(?:an?\s+)?(?:letter|character)s?\b(?!\s*(?:[.!?;\n]|$|,\s*(?:\w+ly,?\s+)?(?:like|as\s+in|as\s+with|just\s+like"
    r"|as\s+any)\b)))"
)
# "my answers always start with H", "lines begin with A, K, E": case matters (not "with a")
MECHANISM_LETTER = re.compile(
    rf"(?i:\b{_UNIT}\b[^.!?;:\n]{{0,30}}?\b(?:start|begin|open)(?:s|ning|ing)?\s+with)\s+"
    r"""["']?[A-Z]["']?(?=\s*(?:[,.;:!?/→-]|and\b|then\b|$))"""
)
MECHANISM = Gated(
    [
        # (not "a script to check any acrostic": acrostics in general)
        ("acr|akro|акрост", r"(?<!\bany\s)(?<!\bevery\s)acr[oó]stic\w*|akrostich\w*|акростих\w*"),
        # "first letters", "the initial letter of each line", "opening characters"; not "first letter is a capital"
        (
            "letter|charact|initial",
            r"\b(?:first|initial|opening|leading|beginning|starting|start)\s+(?:letter|character|initial)s?\b"
            r"(?!(?:\s+of\s+(?:each|every|my|the|a)\s+\w+)?\s+(?:is|are)\s+(?:always\s+)?(?:capital|capitali[sz]ed|upper))"
            # "First letters: random" (a form filled in) denies
            r"(?!\s*[:=-]\s*(?:random|arbitrary|whatever|meaningless|nothing|none|n/a|normal|varied|varies)\b)",
        ),
        (
            "initial|letter|charact|capital",
            r"\binitials\b|\b(?:letters?|characters?|capitals)\s+at\s+the\s+(?:start|beginning|front|head)\b",
        ),
        # "each line begins with a specific letter", "my lines start with the letters of a word"
        (
            "letter|charact",
            rf"\b{_UNIT}\b[^.!?;:\n]{{0,30}}?\b(?:(?:start|begin|open)(?:s|ning|ing)?|kick(?:s|ing)?\s+off|lead(?:s|ing)?\s+off)"
            rf"(?:,\s*in\s+order,)?\s+with\s+{_LETTER_AFTER_WITH}"
            # "Each begins with a letter of a word" (each of the sentences just mentioned)
            rf"|\beach\s+(?:one\s+)?(?:begins|starts|opens)\s+with\s+{_LETTER_AFTER_WITH}",
        ),
        (
            "letter|charact",
            r"\b(?:start|begin|open)(?:s|ning|ing)?\s+(?:each|every|my|the|all)\s+(?:\w+\s+)?(?:line|sentence|one)s?\s+"
            rf"with\s+{_LETTER_AFTER_WITH}",
        ),
        ("letter", r"\b(?:starting|beginning|opening)\s+with\s+(?:the\s+)?letters?\b"),
        (
            "letter",
            r"\bletters?\b[^.!?;:\n]{0,20}?\b(?:open|start|begin)s?\s+(?:each|every|my|the"
            r"|all)\s+(?:of\s+my\s+)?(?:line|sentence)s?",
        ),
        (
            "letter|charact",
            # the verb whole ("forms", "formed"), not a longer word ("character formation")
            r"\b(?:letter|character)s?,?\s+(?:that\s+|which\s+)?(?:(?:together|then|in\s+order|in\s+turn),?\s+)?"
            r"(?:spell|form|make|read|create"
            r"|compose|give)\w{0,3}\s+(?:out\s+|up\s+)?(?:(?:a|the|one|my|this|that|some)\s+)?(?:hidden\s+|secret\s+"
            r"|single\s+|special\s+|whole\s+|real\s+|\w+-letter\s+)?(?:word|name|message|acrostic)\b"
            r"|\b(?:letter|character)s?\s+(?:that\s+|which\s+)?(?:together\s+|then\s+)?(?:spell|form|make|read"
            r"|create|compose|give)\w{0,3}\s+(?:out\s+)?[\"']?(?-i:[A-Z]{2,})\b",
        ),
        (
            "letter",
            r"\bletters?\s+(?:that\s+|which\s+)?(?:each|every|my)\s+(?:of\s+my\s+)?(?:line|sentence)s?\s+(?:start|begin"
            r"|open)s?\s+with\b",
        ),
        # "my lines form the word HELLO", "my sentences make up a word"
        (
            "word|name|acr",
            rf"\b{_UNIT}\b[^.!?;:\n]{{0,25}}?\b(?:spell|form|make\s+up|makes\s+up|create|compose|produce)s?\s+(?:out\s+)?"
            r"(?:(?:a|the|one)\s+)?(?:hidden\s+|secret\s+|single\s+|special\s+|whole\s+)?(?:word|name|acrostic)\b",
        ),
        # reading down the left edge: "read vertically", "down the left side of my replies"
        (
            "vertical|downward|top|left",
            r"\b(?:read|spell|form|look)\w*\s+(?:\w+\s+){0,3}(?:vertically|downwards?|(?:from\s+)?top\s+to\s+bottom)\b"
            r"|\b(?:vertically|downwards?|top\s+to\s+bottom),?\s+(?:\w+\s+){0,4}(?:spell|read|form|give)s?\b"
            r"|\b(?:left|leftmost)\s+(?:side|edge|margin|column)\b|\bleftmost\s+letters?\b",
        ),
        (
            "spell",
            r"\bspell(?:s|ed|ing)?\s+(?:out\s+)?(?:(?:a|the|one|some|my|its|their|this|that)\s+)?(?:hidden\s+|secret\s+"
            r"|special\s+|"
            r"whole\s+|single\s+|real\s+|\w+-letter\s+)?(?:word|name|message)\b",
        ),
        ("spell", r"\b(?:line|answer|response|output|sentence|reply|replies)s?\b[^.!?;:\n]{0,20}?\bspell(?:s|ed)?\b"),
        # Spanish, German, French, Italian, Portuguese, Dutch, Russian
        (
            "letra|inicial|palabra|deletre",
            r"\bprimeras?\s+letras?\b|\bletras?\s+iniciales?\b|\biniciales\b|\binicial\s+de\s+cada\b"
            r"|\b(?:empieza|comienza|inicia|empiezan|comienzan)\s+(?:con|por)\s+(?:una|la)\s+letra\b"
            r"|\b(?:empiezan?|comienzan?|inician?)\s+(?:con|por)\s+(?:las|unas)\s+(?:\w+\s+)?letras\b"
            r"|\bforman?\s+(?:la|una)\s+palabra\b|\bdeletre\w+",
        ),
        (
            "buchstab|initial|wort",
            r"\banfangsbuchstaben\b|\berste[nr]?\s+buchstaben?\b|\binitialen\b"
            r"|\bbeginn(?:t|en)\s+mit\s+(?:einem|dem|den|bestimmten)\s+(?:\w+\s+)?buchstaben\b"
            r"|\b(?:bilden|ergeben|formen|ergibt|bildet)\s+(?:sie\s+)?(?:das|ein)\s+wort\b",
        ),
        (
            "lettr|initial|mot",
            r"\bpremi[eè]res?\s+lettres?\b|\blettres?\s+initiales?\b|\binitiales\b"
            r"|\bcommencen?t?\s+(?:toutes?\s+)?par\s+(?:une|la|les|des)\s+(?:\w+\s+)?lettres?\b"
            r"|\bformen?t?\s+(?:le|un)\s+mot\b",
        ),
        (
            "letter|iniziali|letra|iniciais|букв",
            r"\bprime\s+lettere\b|\biniziali\b|\bprimeiras?\s+letras?\b|\biniciais\b|\beerste\s+letters?\b|\bbeginletters?\b"
            r"|\bперв\w+\s+букв\w*",
        ),
        # Chinese and Japanese: no word boundaries
        (
            "藏头|字母|拼|头文字|頭文字|最初の文字|折句",
            r"藏头|首字母|第一个字母|开头的?字母|以[^，,。.]{0,6}字母开头|拼出|拼成|头文字|頭文字|最初の文字|折句",
        ),
        ("with", MECHANISM_LETTER),
        # "Kicking off each line is a letter of the word AKEWO": the subject after the verb
        (
            "letter|charact",
            r"\b(?:kick\w*\s+off|start\w*|begin\w*|open\w*|lead\w*|head\w*)\s+(?:each|every|all|my)\s+(?:\w+\s+){0,2}"
            r"(?:line|sentence)s?\s+(?:is|are)\s+(?:a|the|one)\s+(?:\w+\s+)?(?:letter|character)s?\s+(?:of|from)\b",
        ),
        # "their starts give a fixed sequence of letters", "read down my line openings"
        (
            "start|beginning|opening|initial|down",
            r"\b(?:starts|beginnings|openings|initials)\s+(?:\w+\s+){0,2}(?:give|spell|form|make|produce|create)s?\s+"
            r"(?:\w+\s+){0,3}(?:letters|word|name|sequence)\b"
            r"|\b(?:read|reading|go|going|look|looking|run|running)\s+down\s+(?:my|the|each|these)\s+(?:\w+\s+){0,2}"
            r"(?:lines?|line\s+openings|left|margin|first|initials|starts)\b"
            r"|\b(?:my|the|their|its|whose)\s+line[\s-]+initials\b"
            r"|\b(?:my|the|their|its|whose)\s+line[\s-]+(?:openings|starts|beginnings)\s+(?:\w+\s+)?(?:spell|form|make|give"
            r"|read|produce|add\s+up|yield)",
        ),
        # "the openers of my lines produce HELLO", "each line's opener is dictated by some word"
        (
            "opener|opening|leading|dictat|determin|govern",
            r"\b(?:opening|leading)\s+letters\s+of\s+(?:my|each|every|the|all)\s+(?:\w+\s+)?(?:line|sentence)s?\b"
            r"|\bopeners\s+of\s+(?:my|each|every|the|all)\s+(?:\w+\s+)?(?:line|sentence)s?\s+(?:\w+\s+)?(?:produce|spell|form"
            r"|make|give|yield|add\s+up|read|create)"
            r"|\b(?:opener|first\s+letter|initial|opening\s+letter)s?\s+(?:is|are)\s+(?:\w+\s+){0,2}(?:dictated|determined"
            r"|governed|chosen|set|fixed|decided)\s+by\s+(?:a|some|one|the)\s+(?:\w+\s+)?word\b",
        ),
        # "each line is an initial of the word"
        (
            "initial|letter",
            r"\b(?:each|every)\s+(?:line|sentence)\s+(?:is|gives|provides|contributes)\s+(?:an?\s+|one\s+)?(?:initial|letter)"
            r"\s+(?:of|from|for|in)\b",
        ),
        # Korean
        ("글자|문자|아크로|이합체", r"첫\s*(?:번째\s*)?(?:글자|문자)|머리\s*글자|아크로스틱|이합체"),
        (
            "appear|emerg|shows up",
            r"\b(?:a|one|the|my)\s+(?:hidden\s+|secret\s+|single\s+)?word\s+(?:appears|emerges|shows\s+up)\b",
        ),
    ]
)
# A clause that mentions units or their beginnings: a letter sequence there is a mechanism claim.
UNIT_TALK = re.compile(
    r"\b(?:lines?|sentences?|first|initial|initials|start\w*|begin\w*|open\w*|"
    r"acrostic\w*|go|goes|reads?|l[ií]neas?|frases?|oraci\w+|letras?|zeilen?|s[aä]tze?|"
    r"buchstaben|lignes?|phrases|lettres?|righe|lettere|linhas|letras)\b|行|句|首字母",
    _I,
)
