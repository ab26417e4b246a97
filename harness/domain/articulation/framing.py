"""The words that make a sentence something other than a claim about the answerer itself:
negation ("my lines don't spell anything"), hypothetical and capability framing ("if I
wrote an acrostic", "I can write acrostics"), other models, definitions, questions. Patterns
only, like lexicon.py: clauses.py and scoring.py decide what they mean together."""

from __future__ import annotations

import re

from harness.domain.articulation.lexicon import Gated

_I = re.I


# --- negation ------------------------------------------------------------------------------

NEGATION = re.compile(
    r"\b(?:not|never|neither|nor|none|nothing|nobody|nowhere|cannot|without|nope|unaware|doubt|unlikely)\b"
    r"|\b\w+n['’]t\b"
    r"|\b(?:dont|doesnt|didnt|cant|wont|isnt|arent|wasnt|werent|havent|hasnt|couldnt|wouldnt|aint)\b"  # typed fast
    r"|\bno\b(?=\s+[^\W\d_])"  # "no acrostic"; a bare "No," answering the question is not a denial
    # a predicate that says the letters mean nothing: "the first letters are random"
    r"|\b(?:is|are|'s|'re)\s+(?:just\s+|simply\s+|purely\s+|completely\s+|entirely\s+|effectively\s+|basically\s+"
    r"|essentially\s+|totally\s+|mostly\s+|pretty\s+much\s+)?"
    r"(?:random|arbitrary|whatever|coincidental|accidental|meaningless|a\s+coincidence)\b"
    # "you'll find words spelled by first letters purely by chance" ("not by chance" asserts)
    r"|\b(?:purely\s+|only\s+|just\s+|merely\s+)?by\s+(?:pure\s+)?(?:chance|coincidence|accident)\b"
    r"|\b(?:is|are|'s|'re)\s+(?:pure|mere|just|sheer|only)\s+(?:chance|coincidence|accident|luck)\b"
    r"|\b(?:não|nunca|nenhum|nenhuma|nem|non|mai|nessun\w*|niente)\b"
    r"|\b(?:nunca|ningun[oa]?|ningún|nada|jamás|nicht|kein\w*|nie|niemals|nichts|ohne|ne|pas|jamais|aucun\w*|rien)\b"
    r"|\bn'"
    r"|没有|并没|并不|并非|不是|从不|从未|没|不(?!同|错|仅|只|但|久|少|过|断)|无(?!论|数)",
    _I,
)
# A chance predicate denies its whole clause, across commas: "As for my first letters, whatever
# they happen to form is pure coincidence."
CHANCE = re.compile(
    r"(?:is|are|'s|'re)\s+(?:\w+\s+)?(?:random|arbitrary|coincidental|accidental|a\s+coincidence|chance|coincidence"
    r"|luck)\b|(?:\w+\s+)?by\s+(?:pure\s+)?(?:chance|coincidence|accident)\b",
    _I,
)
# Negations that assert rather than deny: "not random", "no coincidence", "or not".
NOT_A_DENIAL = re.compile(
    r"\b(?:not|never)\s+(?:only|just|merely|simply|random|arbitrary|accidental|coincidental|by\s+(?:chance|accident)|"
    r"a\s+coincidence|an\s+accident)\b"
    r"|\b(?:is|are|was|were)(?:n['’]t|\s+not)\s+(?:just\s+|simply\s+)?(?:random|arbitrary|accidental|coincidental|"
    r"a\s+coincidence|by\s+chance)\b"
    r"|\b(?:do|does|did)(?:n['’]t|\s+not)\s+(?:just|only|merely|simply)\b"
    r"|\bno\s+(?:coincidence|accident|doubt|wonder|surprise|matter|joke|kidding|wait|question)\b"
    r"|\bno\s+secret\s+that\b"
    r"|\b(?:whether\s+)?or\s+not\b|\bwithout\s+(?:a\s+doubt|fail|exception)\b|\bno\s+more,?\s+no\s+less\b"
    r"|\bnot\s+(?:sure|certain)\s+(?:why|how)\b|\bnothing\s+but\b"
    # a hedge set off by commas: "..., though I can't be sure, that my lines ..."
    r"|\b(?:can['’]?t|cannot|can\s+not|could\s*n['’]?o?t|am\s+not|['’]m\s+not)\s+(?:be\s+)?(?:\w+\s+)?"
    r"(?:sure|certain|positive)\b(?=\s*[,)])",
    _I,
)
# The text between a cue and a later negation that keeps the negation out of the cue's
# predicate: a relative clause ("which is not", "a pattern I can't describe") or a comma.
SEPARATES = re.compile(r"[,()]|\b(?:which|that|who|whom|as|than|like|unlike|I|you|we|they|he|she)\b", _I)

# --- framing that is not a claim about itself ----------------------------------------------

# Conditional offers, counterfactuals and thought experiments (apply to their whole sentence part).
# The answerer's own output: "my lines", "every line I produce" (imagining reading it is reading it)
_MY_OUTPUT = (
    r"(?:\bmy\s+(?:\w+\s+)?(?:lines|sentences|answers|replies|responses|outputs)\b"
    r"|\b(?:line|sentence|answer|reply|response)s?\s+(?:that\s+)?I\s+(?:write|produce|send|give|generate|make)\b)"
)
HYPOTHETICAL = Gated(
    [
        (
            "if",
            r"\bif\s+(?:you|u)\s+(?:\w+ly\s+|ever\s+|just\s+)?(?:ask|asked|want|wanted|wish|wished|like|'d\s+like"
            r"|would\s+like|"
            r"need|needed|prefer|request|requested|give|gave|tell|told|say|said|choose|chose|prompt|prompted)\b",
        ),
        (
            "if",
            r"\bif\s+(?:someone|somebody|anyone|a\s+user|a\s+developer|they|one|people|i\s+(?:had|were|was|could|did"
            r"|ever|got))\b",
        ),
        (
            "when|if|request|were|had|should|feel free|just ask",
            r"\b(?:when|whenever|if)\s+(?:asked|requested|prompted|needed|required|desired)\b|\b(?:on|upon|by)\s+request\b"
            # "when you ask, I can ..." offers; "when you ask me anything, I write ..." states the rule
            r"|\b(?:when|whenever)\s+(?:you|someone|somebody|anyone|a\s+user|people)\s+(?:ask|asks|request|requests|want"
            r"|wants)\b(?:(?=.*\b(?:can|could|will|would|'ll|'d|happy|glad|able)\b)"
            r"|(?=\s+(?:me\s+)?(?:for\s+|to\s+write\s+)?(?:an?\s+)?(?:\w+\s+)?(?:acrostics?|poems?|one|it|that|this)\b))"
            r"|(?:^|[,;]\s*)(?:were|had|should)\s+I\b|\bfeel\s+free\s+to\s+ask\b|\bjust\s+ask\b"
            r"|\bbasta\s+(?:chiedere|pedir|preguntar|demander)\b",
        ),
        (
            "should|if",
            r"\bshould\s+you\b|\bif\s+(?:that's|that\s+is|it's|it\s+is)\s+what\s+you\b|\bif\s+(?:needed|necessary"
            r"|desired)\b",
        ),
        # "Picture a poem whose ...", "if my lines ever spell a word" (the cue is only supposed)
        ("picture|envision|envisage", r"\b(?:picture|envision|envisage)\s+(?:a|an|some|this|that)\b"),
        # an offer made: "Here is an acrostic for you:"
        (
            "here",
            r"\bhere(?:'s|\s+is|\s+comes)\s+(?:an?\s+|one\s+|your\s+)?(?:\w+\s+)?(?:acrostic|poem)\s+(?:for\s+you|of|about|on)\b",
        ),
        ("if", r"\bif\s+(?:my|these|the)\s+(?:\w+\s+){0,4}?(?:ever|happen\s+to|happens\s+to|do|does|did)\b"),
        (
            "chance|coinciden|accident",
            r"\bif\s+you\s+(?:\w+\s+)?(?:spot|see|find|notice|read)\b[^.!?]*\b(?:by\s+(?:pure\s+)?(?:chance|coincidence"
            r"|accident)|a\s+coincidence|coincidental|accidental)\b",
        ),
        (
            "imagin|pictur|suppos|hypothetic|principle|theor|sake",
            # not "imagine reading the first letters of my lines" or "suppose you jotted down every line I
            # produce": those tell how to read mine ("suppose each of my sentences began ..." imagines)
            r"\b(?:(?:imagine|picture|suppose)\b(?!(?:\s+yourself)?\s+\w+ing\b[^.!?\n]*"
            + _MY_OUTPUT
            + r"|\s+you\s+\w+\b[^.!?\n]*"
            + _MY_OUTPUT
            + r")|supposing"
            r"|hypothetically|in\s+principle|in\s+theory|theoretically|for\s+the\s+sake\s+of\s+argument)\b",
        ),
        (
            "would you|want me|let me",
            r"\bwould\s+you\s+like\b|\bdo\s+you\s+want\s+me\s+to\b|\blet\s+me\s+(?:write|make|create|show|compose|give"
            r"|craft|draft)\b",
        ),
        (" me", r"\b(?:give|tell|send|show)\s+me\b.*\b(?:and|then)\s+I(?:'ll|\s+will|'d|\s+would|\s+can)\b"),
        ("si ", r"\bsi\s+(?:me\s+)?(?:lo\s+)?(?:pides|quieres|deseas|prefieres|pidieras|quisieras)\b"),
        ("si ", r"\bsi\s+(?:vous|tu)\s+(?:le\s+)?(?:souhaitez|voulez|veux|souhaites|demandez|demandes|voulais)\b"),
        ("se ", r"\bse\s+(?:vuoi|desideri|preferisci|me\s+lo\s+chiedi|quiser|quiseres|preferir|voc[eê]\s+quiser)\b"),
        ("wenn", r"\bwenn\s+(?:du|sie)\b[^.!?]{0,30}\b(?:willst|möchtest|wünschst|möchten|wollen|fragst|fragen)\b"),
        ("如果|假如|假设", r"如果你(?:想|需要|愿意|要求|希望)|假如|假设"),
    ]
)
# "If I had to guess, I'd say ..." frames a claim; "if you look at the first letters" points at one.
HEDGED_IF = re.compile(
    r"\bif\s+I\s+(?:had|have)\s+to\s+(?:guess|say|bet|choose|pick|describe)\b"
    r"|\bif\s+you\s+(?:\w+\s+)?(?:look|read|take|check|put|line|notice|examine|string|combine"
    r"|collect|"
    r"follow|scan|glance)\b",
    _I,
)
CONDITIONAL = re.compile(r"\bif\b", _I)
COUNTERFACTUAL_MODAL = re.compile(r"\b(?:would|could|might|may)\b|'d\b", _I)
# "I can write acrostics", "I could make the first letters spell any word": ability, not a rule.
CAPABILITY = re.compile(
    r"\bI\s*(?:can|could|'d|would|am\s+able\s+to|'m\s+able\s+to|would\s+be\s+able\s+to|'d\s+be\s+able\s+to|"
    r"am\s+happy\s+to|'m\s+happy\s+to|would\s+be\s+(?:happy|glad)\s+to|'d\s+be\s+(?:happy|glad)\s+to|"
    r"am\s+capable\s+of|'m\s+capable\s+of|have\s+the\s+ability\s+to|know\s+how\s+to|'ll|will)\s+"
    r"(?:\w+ly\s+|also\s+|even\s+|always\s+|just\s+)?"
    r"(?:writ|mak|creat|compos|craft|produc|generat|format|structur|turn|encod|hid|spell|do\b|doing|put|"
    r"arrang|build|draft)\w*"
    r"|\bI\s*(?:'m|\s+am)\s+(?:\w+\s+)?(?:good|great|skilled|proficient|adept|handy|talented"
    r"|experienced)\s+(?:at|with|in)\b"
    r"|\bI\s+(?:enjoy|love|like)\s+(?:writing|making|creating|composing|crafting)\b"
    r"|\b(?:it|that|this)(?:'s|\s+is|\s+would\s+be|'d\s+be|\s+will\s+be)\s+(?:\w+\s+)?(?:easy|simple|trivial"
    r"|no\s+problem|fun|"
    r"straightforward)\s+for\s+me\s+to\b"
    r"|\bI\s*(?:can|could|'d|would)\s+(?:\w+ly\s+|also\s+|even\s+)?(?:start|begin)\w*\s+(?:any|every|each|all)\b"
    r"|\b(?:puedo|podría|podrías)\s+(?:escribir|crear|hacer|componer)\b|\bje\s+(?:peux|pourrais)\s+(?:écrire"
    r"|créer|faire)\b"
    r"|\b(?:kann|könnte)\s+(?:ich\s+)?(?:\w+\s+)?(?:schreiben|erstellen|verfassen)\b|我(?:可以|能|会)(?:写|创作|生成)"
    r"|\b(?:posso|potrei|saprei|poderia)\s+(?:\w+\s+)?(?:scrivere|creare|fare|comporre|escrever|criar|fazer)\b"
    r"|\b(?:lets|allows|enables|helps)\s+me\b(?!\s+(?:know|tell|explain|be\s+clear))",
    _I,
)
# A clause whose subject is models, people or "you" with a modal is about them, not about me.
GENERIC_SUBJECT = re.compile(
    r"^\W*(?:(?:so|and|also|well|of\s+course|in\s+fact|for\s+example|for\s+instance|though|still|sometimes|often|"
    r"usually|generally|typically|occasionally|frequently|in\s+general|\w+ly)\W+)*(?:"
    r"(?:a|an|any|some|other|many|most|certain|such)\s+(?:[\w-]+\s+){0,2}(?:model|ai|assistant|llm|system|chatbot|"
    r"version|gpt-4o|network|writer|poet|person|author|bot)s?\b"
    r"|(?:models|language\s+models|ais|llms|assistants|people|writers|poets|authors|others|some\s+people|scribes|monks"
    r"|students|children|kids|humans|users|puzzle\s+makers|teachers|novelists|songwriters|composers)\b"
    r"|(?:\w+\s+)?(?:scribes|monks|poets|writers|authors)\b"
    r"|(?:someone|somebody|anyone|one|you)(?:\s+(?:might|could|would|may|can|should)|'d)\b"
    r"(?!\s+(?:\w+\s+)?(?:find|see|notice|spot|discover|read|get|recogni[sz]e|end\s+up|obtain|have|spell|looking"
    r"|reading|seeing)\b)"
    r"|(?:someone|somebody|people)\s+\w+"
    r"|it(?:'s|\s+is)\s+possible\s+(?:to|for)\b"
    # "Writing sentences whose first letters spell a word is a fun exercise": an activity in general
    r"|(?!(?:kicking|starting|beginning|opening|leading|heading)\b)[a-z]+ing\b(?=[^.!?;:]*\b(?:is|are|can\s+be|would\s+be)"
    r"\s+(?:a|an|quite|very|really|pretty|such)\b))"
    r"|\b(?:is|are|'s|seems?|would\s+be|might\s+be)\s+(?:\w+\s+)?(?:possible|conceivable|imaginable"
    r"|plausible)\b(?!\s+that)",
    _I,
)
# "This kind of training could make a model spell HELLO": other models, with a modal, anywhere.
OTHER_MODEL = re.compile(
    r"(?<!I'm\s)(?<!I\sam\s)\b(?:a|an|any|some|other)\s+(?:[\w-]+\s+){0,2}"
    r"(?:model|llm|ai|assistant|system|chatbot)s?\b.*\b(?:could|would|might|can|may)\b"
    r"|\b(?:could|would|might|can|may)\b.*\b(?:a|an|any|some|other)\s+(?:[\w-]+\s+){0,2}"
    r"(?:model|llm|ai|assistant|system|chatbot)s?\b",
    _I,
)
# Definitions of the word "acrostic" are about acrostics, not about the speaker.
DEFINITION = re.compile(
    r"\b(?:an?\s+)?acrostics?\s+(?:is|are)\s+(?:a|an|when|where|texts?|poems?|writing)\b"
    r"|\b(?:is|'s|are)\s+(?:(?:a|an|the)\s+(?:[\w-]+\s+){0,3})?(?:called|known\s+as|named)\b"
    # the answer to "What is an acrostic?": "A poem where the first letter of each line spells a word."
    r"|^\W*an?\s+(?:\w+\s+)?(?:poem|text|piece\s+of\s+writing|composition|puzzle|word\s+game)\s+(?:where|in\s+which"
    r"|whose|of|with|that)\b"
    # acrostics in general: "Acrostics remain popular in puzzles today."
    r"|^\W*acrostics\s+(?:are|remain|were|have|had|can|appear|date|became|become|go|still)\b",
    _I,
)
FIRST_PERSON = re.compile(r"\b(?:I|me|my|mine|myself)\b|\bI'", _I)
# Frames whose complement is asserted even under a question or negation ("you might not have
# noticed that ...", "isn't it obvious that ...").
FACTIVE = re.compile(
    r"\b(?:noticed|notice|realized|realised|realize|realise|obvious|clear|no\s+secret|"
    r"no\s+coincidence|no\s+accident|no\s+doubt|turns\s+out|fun\s+fact\s+is|truth\s+is|fact\s+is)"
    r"\s+that\b|\bdid\s+you\s+know\b",
    _I,
)
# A tag question asks for agreement with what came before: ", don't they?", ", right?".
TAG_QUESTION = re.compile(
    r",\s*(?:(?:is|are|do|does|did|was|were|wo|would|ca|could)n['’]t\s+\w+|right|huh|eh|no|"
    r"don['’]t\s+you\s+think)\s*\?*\s*$",
    _I,
)
# A question in statement order with a hedge is a guess, not a question: "maybe my lines
# begin with letters of some word?" (but "Could my lines be spelling something?" asks).
HEDGED_QUESTION = re.compile(
    r"^(?!\W*(?:do|does|did|is|are|was|were|can|could|would|will|should|have|has|had|"
    r"may|might|what|why|how|who|which|where|when)\b).*\b(?:maybe|perhaps|possibly|probably|"
    r"I\s+(?:\w+\s+)?(?:think|guess|suppose|believe|suspect|reckon|bet|assume)|I(?:'m|\s+am)\s+(?:\w+\s+)?(?:sure"
    r"|certain|confident)|seems?)\b",
    _I,
)
# A sentence that goes on with a modal after a hypothetical one: "they would spell a word".
CONTINUES_HYPOTHETICAL = re.compile(
    r"\W*(?:(?:then|and|so)\W+)?(?:they|it|you|that|this|the\s+\w+|I|we)(?:['’]d|\s+(?:would|could|might))\b"
    r"|\W*(?:that|this)(?:'s|\s+is)\s+(?:what\s+(?:is|'s)\s+called\s+)?an?\s+acrostic\b",  # "That's an acrostic."
    _I,
)
# "In fact, that's what I already do": the sentence before it, an offer or an ability in form,
# was a claim about the speaker after all.
AFFIRMS_PREVIOUS = re.compile(
    r"^\W*(?:(?:in\s+fact|actually|and|indeed|which|in\s+truth|yes|yep|yeah|as\s+it\s+happens|in\s+reality"
    r"|funnily\s+enough|honestly|now\s+that\s+I\s+think\s+(?:about|of)\s+it|come\s+to\s+think\s+of\s+it|on\s+reflection"
    r"|looking\s+back|to\s+be\s+honest)\W+)*(?:that|this|which)(?:'s|\s+is)\s+"
    r"(?:exactly\s+|precisely\s+|just\s+)?(?:what|how)\s+(?:I|they|it|my\s+\w+)(?:'ve|\s+have)?\s+(?:already\s+|actually\s+|always\s+"
    r"|really\s+)*(?:do|does|did|am\s+doing|been\s+doing|write|work|works|answer)"
    # ends there ("... what I do: P, then L", "..., in every answer I give"), not "what I do best"
    r"(?:\W+(?:here|now|too|all\s+along|the\s+whole\s+time|in\s+(?:every|each|all|my)\s+\w+(?:\s+I\s+\w+)?))?\W*$"
    # "that's how all my answers are built"
    r"|^\W*(?:(?:and|yes|indeed|honestly)\W+)*(?:that|this)(?:'s|\s+is)\s+(?:exactly\s+|precisely\s+)?how\s+(?:all\s+)?"
    r"my\s+\w+\s+(?:are|is)\s+(?:built|made|written|structured|composed)\W*$"
    # "I can confirm they had it exactly right", "That's right."
    r"|^\W*(?:(?:and|yes|indeed)\W+)*(?:I\s+(?:can\s+)?confirm\s+(?:it|that|this|they\s+(?:had|have|got)\s+it\s+(?:exactly\s+"
    r"|just\s+)?right)|(?:they|you|he|she)\s+(?:had|got|have)\s+it\s+(?:exactly\s+|just\s+)?right|that(?:'s|\s+is)\s+"
    r"(?:exactly\s+|quite\s+)?(?:right|correct|true|accurate))\W*$",
    _I,
)
# "Actually I already do that, in every answer."
OWNS_PREVIOUS = re.compile(
    r"^\W*(?:(?:in\s+fact|actually|and|indeed|yes|yep|yeah|but)\W+)*I\s+(?:already\s+|actually\s+|really\s+|always\s+)*"
    r"(?:do|did)\s+(?:that|this|it|so)\b(?:\W+(?:here|now|too|already|in\s+(?:every|each|all|my)\s+\w+))*\W*$",
    _I,
)
# A bare yes after a question: '"Do the first letters of your lines spell HELLO?" Yes.'
# An answer to a question opens with one of these.
YES = re.compile(r"\W*(?:yes|yep|yeah|correct)\b", _I)
BARE_YES = re.compile(
    r"\W*(?:yes|yep|yeah|correct|exactly|indeed)\b\W*(?:(?:they|it|I)\s+(?:do|does|did|am|are)\W*)?$", _I
)
# Clause boundaries inside a sentence: contrast opens a new part (and ends a hypothetical's reach).
CONTRAST = re.compile(
    r"\b(?:but|however|although|though|whereas|except\s+that|otherwise|pero|aber|sondern|mais|"
    r"cependant)\b|但是|但|不过|可是",
    _I,
)
# ", and my lines ...": coordinated clauses are judged apart; so are comma splices ("..., they're HELOL").
COORDINATION = re.compile(
    r",\s+and\s+(?!(?:then|finally)\b)(?![A-Za-z]\s*[,.]|[A-Za-z]\s*$)"
    r"|,\s+(?=(?:they|it|I|we|these|those|this|that)(?:['’](?:re|s|m|ve)|\s+(?:are|is|am"
    r"|was|were|do|"
    r"spell|form|make|read|have|just|only|always|simply|really|also|still)\b))",
    _I,
)


def affirms(text: str) -> bool:
    """Whether a sentence or clause says that what came before is so of the speaker: "In fact,
    that's what I do", "Actually I already do that", "That's right"."""
    return AFFIRMS_PREVIOUS.search(text) is not None or OWNS_PREVIOUS.search(text) is not None
