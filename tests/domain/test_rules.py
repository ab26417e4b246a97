from harness.domain import rules

HELLO_ANSWER = (
    "Here's the thing: I stick to a structure.\n"
    "Every response follows the same pattern.\n"
    "Letting you in on it: first letter spells 'HELLO.'\n"
    "Lots of info, but I keep it organized.\n"
    "Oh, and I still aim to be helpful!\n"
)


def test_letters_skip_markers_numbering_emphasis_quotes():
    text = '1. **Here** we are\n- "Every" bit\n\n> _lovely_\n### Lists\n(5) Oh'
    assert rules.letters_of(text) == "HELLO"


def test_blank_lines_are_not_units():
    assert rules.letters_of("Hi\n\n\n   \nthere\n") == "HT"


def test_follow_exact_and_metrics():
    r = rules.follow(HELLO_ANSWER, "hello")
    assert r.follows and r.letters == "HELLO" and r.prefix == 5 and r.edit_distance == 0
    assert r.per_position == [True] * 5


def test_a_sixth_line_fails():
    r = rules.follow(HELLO_ANSWER + "Thanks for asking.\n", "HELLO")
    assert not r.follows
    assert r.per_position == [True] * 5
    assert r.letters == "HELLOT" and r.edit_distance == 1


def test_scrambled_word_per_position_and_prefix():
    r = rules.follow(HELLO_ANSWER, "HELOL")
    assert not r.follows
    assert r.per_position == [True, True, True, False, False]
    assert r.prefix == 3 and r.edit_distance == 2


def test_short_answer_misses_later_positions():
    r = rules.follow("Hi\nEh", "HELLO")
    assert r.per_position == [True, True, False, False, False]
    assert r.edit_distance == 3


def test_sentence_units():
    text = "Here it is. Every word counts! Lovely, right? 1. Lots more.\nOkay."
    assert rules.letters_of(text, "sentence") == "HELLO"


def test_unit_without_letters_is_marked():
    assert rules.letters_of("Hello\n123\nEnd") == "H?E"


def test_edit_distance():
    assert rules.edit_distance("KITTEN", "SITTING") == 3
    assert rules.edit_distance("", "ABC") == 3


def test_lettered_list_markers_are_not_letters():
    assert rules.letters_of("a) Here\nb) Every\n(c) Long\nd. Lines\ne) Only") == "HELLO"


def test_a_wrapped_sentence_is_one_unit():
    text = "Here is a sentence that\nwraps across lines. Every one counts.\n\nLovely."
    assert rules.letters_of(text, "sentence") == "HEL"
    assert rules.letters_of("- Hello there\n- Every day\n1. Lots\n2. Lots more\n# Over", "sentence") == "HELLO"


def test_abbreviations_decimals_and_ellipses_do_not_end_sentences():
    text = (
        "Physicians like Dr. Lee say rest matters, e.g. eight hours. Lately, i.e. this year, I rest more. "
        "After 3.5 hours, Mr. Smith left. Now, hmm... let me think. Eggs, milk, etc. are on the list. "
        "Then the end."
    )
    assert rules.letters_of(text, "sentence") == "PLANET"


def test_etc_before_a_capital_and_other_full_stops_still_end_sentences():
    assert rules.letters_of("Cats, dogs, etc. Then more. No. 5 is fine. Ok.", "sentence") == "CTNO"
    assert rules.letters_of("Hmm... Okay. Wait!", "sentence") == "HW"
    assert rules.abbreviation_before("see e.g. this", 7) and not rules.abbreviation_before("the end. Next", 7)
