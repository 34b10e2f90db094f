"""Speech text: whole words as soon as they exist, and the cleaning table."""

import pytest

from moshi_mlx.assistant.speech_text import WordChunker, clean_word, speakable

CASES = [
    # markdown
    ("This is **very** important.", "This is very important."),
    ("An _italic_ word and `code` inline.", "An italic word and code inline."),
    ("# Title\nSome text.", "Title Some text."),
    ("## Steps\n- first item\n- second item\n1. one\n2) two", "Steps first item second item one two"),
    ("* starred bullet", "starred bullet"),
    ("In\n2024. That year", "In 2024. That year"),  # a year at a line start is no list number
    ("Before.\n```python\nprint('x')\nx = 1\n```\nAfter.", "Before. code omitted. After."),
    ("See [the docs](https://example.com/docs) now.", "See the docs now."),
    ("snake_case_name", "snake case name"),
    # URLs
    ("Go to https://www.example.com/page?q=1.", "Go to example.com."),
    ("Visit www.kyutai.org today", "Visit kyutai.org today"),
    ("(http://a.b.org/x)", "(a.b.org)"),
    # emoji
    ("Great job! 😀👍 Keep going ✨", "Great job! Keep going"),
    ("Thumbs 👍🏽 up", "Thumbs up"),
    # symbols
    ("50% off", "50 percent off"),
    ("salt & pepper", "salt and pepper"),
    ("Tom&Jerry", "Tom and Jerry"),
    ("It is 21°C, or 70°F. Water boils at 100°.",
     "It is 21 degrees Celsius, or 70 degrees Fahrenheit. Water boils at 100 degrees."),
    ("3 + 4 = 7", "3 plus 4 equals 7"),
    ("It costs $5, or €4.50.", "It costs 5 dollars, or 4.50 euros."),
    ("about ~3 km", "about about 3 km"),
    ("ranked #2", "ranked number 2"),
    ("mail me at ann@example.org", "mail me at ann at example.org"),
    # quotes and lone signs
    ("“Hello,” she said. It’s ‘fine’.", '"Hello," she said. It\'s \'fine\'.'),
    ("Answer : yes", "Answer yes"),
    ("this - that — and • more", "this that and more"),
    # plain text passes unchanged, whitespace runs become one space
    ("Hello there,\n\n  friend.", "Hello there, friend."),
    ("", ""),
]


@pytest.mark.parametrize("text,spoken", CASES)
def test_speakable(text, spoken):
    assert speakable(text) == spoken


def test_speakable_keeps_a_leading_space():
    assert speakable(" **word**") == " word"
    assert clean_word("😀") == "" and clean_word("-", line_start=True) == ""


def test_words_are_released_as_soon_as_they_are_complete():
    c = WordChunker(clean=False)
    assert c.push("Hel") == []
    assert c.push("lo") == []
    assert c.push(" wor") == ["Hello"]  # the first word goes out as soon as a space follows it
    assert c.push("ld,") == []
    assert c.push(" how are") == [" world,", " how"]
    assert c.push("\n\nyou") == [" are"]
    assert c.flush() == [" you"]
    assert c.flush() == []


@pytest.mark.parametrize("deltas", [
    ["I think", " that", " it's", " 50", "%", " likely", ".", " See", " https", "://", "example", ".com", "/x"],
    list("I think that it's 50% likely. See https://example.com/x"),
    ["I think that it's 50% likely. See https://example.com/x"],
])
def test_any_split_of_the_stream_gives_the_same_words(deltas):
    c = WordChunker()
    words = [w for d in deltas for w in c.push(d)] + c.flush()
    assert words == ["I", " think", " that", " it's", " 50", " percent", " likely.", " See", " example.com"]
    # never a split word: each word of the text is in exactly one piece
    assert all(w.strip() and " " not in w.strip() for w in words)


def test_code_block_across_deltas_is_omitted_once():
    c = WordChunker()
    words = []
    for d in ["Here:", "\n``", "`bash\n", "ls -la\n", "``", "`\n", "Done", "."]:
        words += c.push(d)
    words += c.flush()
    assert "".join(words) == "Here: code omitted. Done."


def test_words_keep_their_leading_space_after_dropped_ones():
    c = WordChunker()
    words = c.push("😀 Hi **there** ") + c.flush()
    assert words == [" Hi", " there"]
