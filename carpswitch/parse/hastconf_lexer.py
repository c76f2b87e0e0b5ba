"""Tokenizer for hast.conf, rule for rule like hastd's flex scanner (sbin/hastd/token.l).

* A word is a maximal run of `[a-zA-Z0-9.\\-_/:\\[\\]]`. Flex takes the longest match and,
  on a tie, the earliest rule: a run equal to a keyword is that keyword, a run of digits
  is a NUM, anything else is a STR (`none` is NONE, `nonexistent` is a STR, `8457` is a
  NUM, `10.0.0.1` is a STR).
* `#` up to (not including) the next newline is a comment. The rule is `#.*$` and flex's
  `$` needs a following newline, so a comment on a last line without a newline is *not*
  a comment: its `#` is skipped and the rest becomes tokens.
* Newlines count lines; hastd's counter starts at 0 (`Token.line`).
* Spaces and tabs separate tokens. Every other character (`;`, `"`, `=`, `\\r`, non-ASCII,
  ...) matches no rule: flex's default rule echoes it to stdout and skips it, so it
  separates tokens and is otherwise ignored. We skip it the same way.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from enum import Enum

#: Characters of a STR token (token.l).
STR_CHARS: frozenset[str] = frozenset(string.ascii_letters + string.digits + ".-_/:[]")

#: Words token.l returns as keywords; they are never a STR.
KEYWORDS: frozenset[str] = frozenset(
    {
        "control",
        "pidfile",
        "listen",
        "replication",
        "checksum",
        "compression",
        "timeout",
        "exec",
        "metaflush",
        "resource",
        "name",
        "local",
        "remote",
        "source",
        "on",
        "off",
        "fullsync",
        "memsync",
        "async",
        "none",
        "crc32",
        "sha256",
        "hole",
        "lzf",
    }
)


class TokenKind(Enum):
    """What token.l returns: a keyword, NUM, STR, OB (`{`), CB (`}`) or end of input."""

    KEYWORD = "keyword"
    NUM = "number"
    STR = "string"
    OPEN = "{"
    CLOSE = "}"
    END = "end of file"


@dataclass(frozen=True)
class Token:
    """One token; `line` is hastd's line counter (newlines before the token, from 0)."""

    kind: TokenKind
    text: str
    line: int


def is_str_token(word: str) -> bool:
    """True if `word` reads back as one STR token (not a keyword, not a number)."""
    return (
        word != ""
        and all(char in STR_CHARS for char in word)
        and word not in KEYWORDS
        and not word.isdigit()
    )


def _word_kind(word: str) -> TokenKind:
    if word in KEYWORDS:
        return TokenKind.KEYWORD
    if all(char in string.digits for char in word):
        return TokenKind.NUM
    return TokenKind.STR


def decode_hast_conf(raw: bytes) -> str:
    """hast.conf's bytes as the text `tokenize` reads, one character per byte.

    hastd's scanner works on bytes and skips every byte no rule matches, non-ASCII ones
    included, so a hast.conf that is not UTF-8 (a Latin-1 comment) is fine for hastd and
    must be for carpswitch. Latin-1 maps each byte to one character: words stay ASCII and
    every other byte is skipped exactly as flex skips it.
    """
    return raw.decode("latin-1")


def tokenize(text: str) -> list[Token]:
    """Split hast.conf text into tokens, ending with one END token."""
    tokens: list[Token] = []
    line = 0
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char == "\n":
            line += 1
            position += 1
        elif char in STR_CHARS:
            end = position + 1
            while end < length and text[end] in STR_CHARS:
                end += 1
            word = text[position:end]
            tokens.append(Token(_word_kind(word), word, line))
            position = end
        elif char == "{":
            tokens.append(Token(TokenKind.OPEN, char, line))
            position += 1
        elif char == "}":
            tokens.append(Token(TokenKind.CLOSE, char, line))
            position += 1
        elif char == "#" and (newline := text.find("\n", position)) != -1:
            position = newline
        else:
            position += 1  # blank, or a character no rule matches (flex echoes and skips it)
    tokens.append(Token(TokenKind.END, "", line))
    return tokens
