"""hast.conf text -> HastConf, accepting exactly hastd's grammar (sbin/hastd/parse.y).

A recursive-descent parser over the tokens of `hastconf_lexer`. The grammar is LL(1), so
the first token that cannot continue the file is the one yacc would report; the error
text is hastd's: `Unable to parse configuration file at line %d near '%s': syntax error`
with hastd's 0-based line counter. Only syntax is checked here; what hastd refuses for
other reasons (zero timeout, duplicate resource, no block for this node, ...) is checked
by `hastconf_resolve`, because part of it depends on which node reads the file.
Repeated statements in one section: the last one wins, except `listen`, which adds up.
"""

from __future__ import annotations

from enum import StrEnum

from carpswitch.errors import ParseError
from carpswitch.parse.hastconf_lexer import Token, TokenKind, tokenize
from carpswitch.parse.hastconf_model import (
    Checksum,
    Compression,
    HastConf,
    HastNodeSection,
    HastResourceNode,
    HastResourceSection,
    Replication,
)

_GLOBAL_STATEMENTS = frozenset(
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
    }
)
_NODE_STATEMENTS = frozenset({"control", "pidfile", "listen"})
_RESOURCE_STATEMENTS = frozenset(
    {"replication", "checksum", "compression", "timeout", "exec", "metaflush", "name", "local"}
)
_RESOURCE_NODE_STATEMENTS = frozenset({"name", "local", "metaflush", "remote", "source"})

#: Model field set by each statement.
_FIELD_OF = {
    "control": "control",
    "pidfile": "pidfile",
    "replication": "replication",
    "checksum": "checksum",
    "compression": "compression",
    "timeout": "timeout",
    "exec": "exec_path",
    "metaflush": "metaflush",
    "name": "provider_name",
    "local": "local_path",
    "remote": "remote_address",
    "source": "source_address",
}
_CHOICES: dict[str, type[StrEnum]] = {
    "replication": Replication,
    "checksum": Checksum,
    "compression": Compression,
}
_STR_STATEMENTS = frozenset({"control", "pidfile", "listen", "exec", "name", "local", "source"})
_BOOLEANS = {"on": True, "off": False}

Value = str | int | bool | StrEnum


def _is_keyword(token: Token, word: str) -> bool:
    return token.kind is TokenKind.KEYWORD and token.text == word


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self._tokens = tokenize(text)
        self._position = 0
        self._source = source

    def _next(self) -> Token:
        token = self._tokens[self._position]
        if token.kind is not TokenKind.END:
            self._position += 1
        return token

    def _syntax_error(self, token: Token) -> ParseError:
        reason = (
            f"Unable to parse configuration file at line {token.line} "
            f"near '{token.text}': syntax error"
        )
        return ParseError(self._source, reason, token.line + 1)

    def _expect(self, kind: TokenKind) -> Token:
        token = self._next()
        if token.kind is not kind:
            raise self._syntax_error(token)
        return token

    def _value(self, statement: str) -> Value:
        if statement in _STR_STATEMENTS:
            return self._expect(TokenKind.STR).text
        if statement == "timeout":
            return int(self._expect(TokenKind.NUM).text)
        token = self._next()
        if token.kind is TokenKind.STR and statement == "remote":
            return token.text
        if token.kind is TokenKind.KEYWORD:
            if statement == "remote" and token.text == "none":
                return token.text
            if statement == "metaflush" and token.text in _BOOLEANS:
                return _BOOLEANS[token.text]
            choices = _CHOICES.get(statement)
            if choices is not None and token.text in {member.value for member in choices}:
                return choices(token.text)
        raise self._syntax_error(token)

    def _statement(
        self, token: Token, allowed: frozenset[str], fields: dict[str, Value], listen: list[str]
    ) -> None:
        if token.kind is not TokenKind.KEYWORD or token.text not in allowed:
            raise self._syntax_error(token)
        value = self._value(token.text)
        if token.text == "listen":
            listen.append(str(value))
        else:
            fields[_FIELD_OF[token.text]] = value

    def _block(
        self,
        allowed: frozenset[str],
        fields: dict[str, Value],
        listen: list[str],
        *,
        with_node_blocks: bool = False,
    ) -> list[HastResourceNode]:
        """`{ statements }`; `on` blocks are allowed only inside a resource."""
        self._expect(TokenKind.OPEN)
        nested: list[HastResourceNode] = []
        while (token := self._next()).kind is not TokenKind.CLOSE:
            if with_node_blocks and _is_keyword(token, "on"):
                nested.append(self._resource_node())
            else:
                self._statement(token, allowed, fields, listen)
        return nested

    def _node_section(self) -> HastNodeSection:
        node = self._expect(TokenKind.STR).text
        fields: dict[str, Value] = {}
        listen: list[str] = []
        self._block(_NODE_STATEMENTS, fields, listen)
        return HastNodeSection.model_validate({**fields, "node": node, "listen": listen})

    def _resource_node(self) -> HastResourceNode:
        node = self._expect(TokenKind.STR).text
        fields: dict[str, Value] = {}
        self._block(_RESOURCE_NODE_STATEMENTS, fields, [])
        return HastResourceNode.model_validate({**fields, "node": node})

    def _resource_section(self) -> HastResourceSection:
        name = self._expect(TokenKind.STR).text
        fields: dict[str, Value] = {}
        on = self._block(_RESOURCE_STATEMENTS, fields, [], with_node_blocks=True)
        return HastResourceSection.model_validate({**fields, "name": name, "on": on})

    def parse(self) -> HastConf:
        fields: dict[str, Value] = {}
        listen: list[str] = []
        nodes: list[HastNodeSection] = []
        resources: list[HastResourceSection] = []
        while (token := self._next()).kind is not TokenKind.END:
            if _is_keyword(token, "on"):
                nodes.append(self._node_section())
            elif _is_keyword(token, "resource"):
                resources.append(self._resource_section())
            else:
                self._statement(token, _GLOBAL_STATEMENTS, fields, listen)
        return HastConf.model_validate(
            {**fields, "listen": listen, "nodes": nodes, "resources": resources}
        )


def parse_hast_conf(text: str, source: str = "hast.conf") -> HastConf:
    """Parse hast.conf text as hastd does; a syntax error raises ParseError.

    `ParseError.line` is the 1-based line of the offending token; the reason quotes
    hastd's message verbatim, whose line counter starts at 0 (one less).
    """
    return _Parser(text, source).parse()
