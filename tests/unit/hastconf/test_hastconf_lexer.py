"""The hast.conf tokenizer follows token.l rule for rule."""

import pytest

from carpswitch.parse.hastconf_lexer import (
    KEYWORDS,
    Token,
    TokenKind,
    decode_hast_conf,
    is_str_token,
    tokenize,
)


def kinds_and_texts(text: str) -> list[tuple[TokenKind, str]]:
    return [(token.kind, token.text) for token in tokenize(text)]


def test_every_token_l_keyword_is_a_keyword_token():
    for word in KEYWORDS:
        assert tokenize(word)[0] == Token(TokenKind.KEYWORD, word, 0)
    assert len(KEYWORDS) == 24


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("none", TokenKind.KEYWORD),
        ("nonexistent", TokenKind.STR),
        ("on", TokenKind.KEYWORD),
        ("one", TokenKind.STR),
        ("8457", TokenKind.NUM),
        ("8457a", TokenKind.STR),
        ("10.0.0.1", TokenKind.STR),
        ("tcp6://[::]:8457", TokenKind.STR),
        ("/dev/ad6", TokenKind.STR),
        ("Memsync", TokenKind.STR),
    ],
)
def test_longest_run_decides_and_keywords_win_ties(word, kind):
    assert kinds_and_texts(word) == [(kind, word), (TokenKind.END, "")]


def test_braces_are_tokens_even_without_blanks():
    assert kinds_and_texts("on a{}") == [
        (TokenKind.KEYWORD, "on"),
        (TokenKind.STR, "a"),
        (TokenKind.OPEN, "{"),
        (TokenKind.CLOSE, "}"),
        (TokenKind.END, ""),
    ]


def test_line_counter_starts_at_zero_and_counts_newlines_like_hastd():
    tokens = tokenize("listen a\n\n# comment\nlisten b\n")
    assert [(token.text, token.line) for token in tokens] == [
        ("listen", 0),
        ("a", 0),
        ("listen", 3),
        ("b", 3),
        ("", 4),
    ]


def test_comment_runs_to_the_end_of_the_line_even_inside_a_word():
    assert kinds_and_texts("local /dev/ad6#no space needed\nremote x") == [
        (TokenKind.KEYWORD, "local"),
        (TokenKind.STR, "/dev/ad6"),
        (TokenKind.KEYWORD, "remote"),
        (TokenKind.STR, "x"),
        (TokenKind.END, ""),
    ]


def test_comment_on_a_last_line_without_newline_is_not_a_comment():
    # flex's `#.*$` needs a newline after it; the `#` alone is skipped.
    assert kinds_and_texts("# tail words") == [
        (TokenKind.STR, "tail"),
        (TokenKind.STR, "words"),
        (TokenKind.END, ""),
    ]


def test_characters_no_rule_matches_are_skipped_and_separate_words():
    assert kinds_and_texts('listen "0.0.0.0";\r\nexec=/x') == [
        (TokenKind.KEYWORD, "listen"),
        (TokenKind.STR, "0.0.0.0"),
        (TokenKind.KEYWORD, "exec"),
        (TokenKind.STR, "/x"),
        (TokenKind.END, ""),
    ]


def test_non_ascii_letters_are_not_word_characters():
    assert kinds_and_texts("héllo") == [
        (TokenKind.STR, "h"),
        (TokenKind.STR, "llo"),
        (TokenKind.END, ""),
    ]


@pytest.mark.parametrize(
    ("word", "writable"),
    [
        ("/dev/ad6", True),
        ("hostid42", True),
        ("none", False),
        ("42", False),
        ("", False),
        ("a b", False),
        ("a;b", False),
        ("ünï", False),
    ],
)
def test_is_str_token_tells_which_values_read_back_as_one_string(word, writable):
    assert is_str_token(word) is writable


def test_bytes_that_are_not_utf8_are_skipped_as_flex_skips_them():
    """hastd reads bytes: a Latin-1 comment or a stray 0xff is no error (issue 8, item 25)."""
    raw = b"# caf\xe9\nresource\xfftank {\n}\n"
    text = decode_hast_conf(raw)
    assert len(text) == len(raw)  # one character per byte
    tokens = [(t.kind, t.text, t.line) for t in tokenize(text)]
    assert tokens == [
        (TokenKind.KEYWORD, "resource", 1),
        (TokenKind.STR, "tank", 1),
        (TokenKind.OPEN, "{", 1),
        (TokenKind.CLOSE, "}", 2),
        (TokenKind.END, "", 3),
    ]
