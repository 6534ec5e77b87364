"""Google Ads Query Language: a tokenizer and recursive-descent parser, and DURING date literals.

The grammar (developers.google.com/google-ads/api/docs/query/grammar):

    Query      := SELECT Field {, Field} FROM Resource [WHERE Cond {AND Cond}]
                  [ORDER BY Field [ASC|DESC] {, …}] [LIMIT int] [PARAMETERS Name = Value {, …}]
    Cond       := Field (= | != | > | >= | < | <=) Value | Field [NOT] IN (Value {, Value})
                | Field BETWEEN Value AND Value | Field DURING DateLiteral | Field [NOT] LIKE String
                | Field IS [NOT] NULL

Keywords are case-insensitive; strings take single or double quotes. Errors carry the QueryError
enum name the real API reports (GaqlError.code) and a message in the API's wording where known.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

KEYWORDS = frozenset({"SELECT", "FROM", "WHERE", "AND", "ORDER", "BY", "ASC", "DESC", "LIMIT",
                      "PARAMETERS", "IN", "NOT", "BETWEEN", "DURING", "LIKE", "IS", "NULL"})
DATE_LITERALS = ("TODAY", "YESTERDAY", "LAST_7_DAYS", "LAST_14_DAYS", "LAST_30_DAYS",
                 "LAST_BUSINESS_WEEK", "THIS_MONTH", "LAST_MONTH", "THIS_WEEK_SUN_TODAY",
                 "THIS_WEEK_MON_TODAY", "LAST_WEEK_SUN_SAT", "LAST_WEEK_MON_SUN")
COMPARISONS = ("=", "!=", ">", ">=", "<", "<=")


class GaqlError(Exception):
    """A query the real API rejects: `code` is the QueryError enum name."""

    def __init__(self, code: str, message: str, category: str = "queryError") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.category = category


@dataclass(frozen=True)
class Token:
    kind: str  # "word" | "number" | "string" | "op" | "(" | ")" | "," | "end"
    text: str
    position: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


@dataclass(frozen=True)
class Value:
    kind: str  # "string" | "number" | "word" (an enum constant, TRUE, FALSE or a date literal)
    text: str


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str  # one of COMPARISONS, IN, NOT IN, BETWEEN, DURING, LIKE, NOT LIKE, IS NULL, IS NOT NULL
    values: tuple[Value, ...] = ()


@dataclass(frozen=True)
class Query:
    select: tuple[str, ...]
    resource: str
    where: tuple[Condition, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    limit: int | None = None
    parameters: dict[str, str] = field(default_factory=dict)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "'\"":
            i = _string(text, i, tokens)
        elif char.isascii() and (char.isalpha() or char == "_"):
            start = i
            while i < n and text[i].isascii() and (text[i].isalnum() or text[i] in "_."):
                i += 1
            tokens.append(Token("word", text[start:i], start))
        elif char.isdigit() or (char in "-+." and i + 1 < n and text[i + 1].isdigit()):
            start = i
            i += 1
            while i < n and text[i].isascii() and (text[i].isalnum() or text[i] in "._"):
                i += 1
            number = text[start:i]
            try:
                float(number)
            except ValueError:
                raise GaqlError("BAD_NUMBER", f"Error in query: invalid number '{number}'.") from None
            tokens.append(Token("number", number, start))
        elif char in "<>!=":
            two = text[i:i + 2]
            if two in ("!=", ">=", "<="):
                tokens.append(Token("op", two, i))
                i += 2
            elif char == "!":
                raise GaqlError("BAD_SYMBOL", f"Error in query: unexpected symbol '!' at {i}.")
            else:
                tokens.append(Token("op", char, i))
                i += 1
        elif char in "(),":
            tokens.append(Token(char, char, i))
            i += 1
        else:
            raise GaqlError("BAD_SYMBOL", f"Error in query: unexpected symbol '{char}' at {i}.")
    tokens.append(Token("end", "", n))
    return tokens


def _string(text: str, start: int, tokens: list[Token]) -> int:
    quote, i, out = text[start], start + 1, []
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 >= len(text) or text[i + 1] not in "\\'\"%_":
                raise GaqlError("BAD_ESCAPE_SEQUENCE", "Error in query: invalid escape sequence.")
            # \% and \_ stay escaped: they mean a literal % or _ to LIKE.
            out.append(text[i:i + 2] if text[i + 1] in "%_" else text[i + 1])
            i += 2
            continue
        if char == "\n":
            raise GaqlError("PROHIBITED_NEWLINE_IN_STRING",
                            "Error in query: a string must not contain a new line.")
        if char == quote:
            tokens.append(Token("string", "".join(out), start))
            return i + 1
        out.append(char)
        i += 1
    raise GaqlError("STRING_NOT_TERMINATED", "Error in query: string is not terminated.")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, keyword: str) -> bool:
        return self.token.upper == keyword

    def need_more(self) -> None:
        if self.token.kind == "end":
            raise GaqlError("UNEXPECTED_END_OF_QUERY", "Error in query: unexpected end of query.")

    def parse(self) -> Query:
        self.need_more()
        if not self.at("SELECT"):
            raise GaqlError("EXPECTED_SELECT", "Error in query: expected SELECT at the beginning.")
        self.take()
        select = [self.field_name("SELECT")]
        while self.token.kind == ",":
            self.take()
            select.append(self.field_name("SELECT"))
        self.need_more()
        if not self.at("FROM"):
            raise GaqlError("EXPECTED_FROM", f"Error in query: expected FROM, found '{self.token.text}'.")
        self.take()
        self.need_more()
        resource = self.take()
        if resource.kind != "word" or resource.upper in KEYWORDS or "." in resource.text:
            raise GaqlError("BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
                            f"Error in FROM clause: invalid resource '{resource.text}'.")
        if self.token.kind == ",":
            raise GaqlError("UNEXPECTED_INPUT",
                            "Error in FROM clause: only one resource may be named.")
        where = self.where() if self.at("WHERE") else []
        order = self.order_by() if self.at("ORDER") else []
        limit = self.limit() if self.at("LIMIT") else None
        parameters = self.parameters() if self.at("PARAMETERS") else {}
        if self.token.kind != "end":
            raise GaqlError("UNEXPECTED_INPUT",
                            f"Error in query: unexpected input '{self.token.text}'.")
        return Query(tuple(select), resource.text.lower(), tuple(where), tuple(order), limit,
                     parameters)

    def field_name(self, clause: str) -> str:
        self.need_more()
        token = self.take()
        if token.kind != "word" or token.upper in KEYWORDS:
            raise GaqlError("BAD_FIELD_NAME",
                            f"Error in {clause} clause: invalid field name '{token.text}'.")
        return token.text.lower()

    def where(self) -> list[Condition]:
        self.take()
        conditions = [self.condition()]
        while self.at("AND"):
            self.take()
            conditions.append(self.condition())
        return conditions

    def condition(self) -> Condition:
        name = self.field_name("WHERE")
        self.need_more()
        token = self.take()
        if token.kind == "op":
            if self.token.kind == "(":
                raise GaqlError("EXPECTED_SINGLE_VALUE",
                                f"Error in WHERE clause: operator {token.text} takes a single value.")
            return Condition(name, token.text, (self.value(),))
        keyword = token.upper
        if keyword == "NOT":
            self.need_more()
            negated = self.take().upper
            if negated not in ("IN", "LIKE"):
                raise GaqlError("BAD_OPERATOR", f"Error in WHERE clause: invalid operator NOT {negated}.")
            keyword = f"NOT {negated}"
        if keyword in ("IN", "NOT IN"):
            return Condition(name, keyword, self.value_list())
        if keyword in ("LIKE", "NOT LIKE"):
            value = self.value()
            if value.kind != "string":
                raise GaqlError("INVALID_VALUE_WITH_LIKE_OPERATOR",
                                "Error in WHERE clause: LIKE takes a string.")
            return Condition(name, keyword, (value,))
        if keyword == "BETWEEN":
            if self.token.kind == "end" or self.at("AND"):
                raise GaqlError("EXPECTED_VALUE_WITH_BETWEEN_OPERATOR",
                                "Error in WHERE clause: BETWEEN needs two values.")
            low = self.value()
            if not self.at("AND"):
                raise GaqlError("EXPECTED_AND", "Error in WHERE clause: expected AND after BETWEEN.")
            self.take()
            if self.token.kind == "end":
                raise GaqlError("EXPECTED_VALUE_WITH_BETWEEN_OPERATOR",
                                "Error in WHERE clause: BETWEEN needs two values.")
            return Condition(name, keyword, (low, self.value()))
        if keyword == "DURING":
            self.need_more()
            literal = self.take()
            if literal.kind != "word" or literal.upper not in DATE_LITERALS:
                raise GaqlError("INVALID_VALUE_WITH_DURING_OPERATOR",
                                f"Error in WHERE clause: invalid date range literal '{literal.text}'.")
            return Condition(name, keyword, (Value("word", literal.upper),))
        if keyword == "IS":
            negate = self.at("NOT")
            if negate:
                self.take()
            if not self.at("NULL"):
                raise GaqlError("BAD_OPERATOR", "Error in WHERE clause: expected NULL after IS.")
            self.take()
            return Condition(name, "IS NOT NULL" if negate else "IS NULL")
        raise GaqlError("BAD_OPERATOR", f"Error in WHERE clause: invalid operator '{token.text}'.")

    def value(self) -> Value:
        self.need_more()
        token = self.take()
        if token.kind in ("string", "number"):
            return Value(token.kind, token.text)
        if token.kind == "word" and token.upper not in KEYWORDS - {"NULL"}:
            return Value("word", token.text)
        if token.kind == "(":
            raise GaqlError("EXPECTED_SINGLE_VALUE", "Error in WHERE clause: expected a single value.")
        # The real API's wording for a value it cannot read (n8n-io/n8n #26944).
        raise GaqlError("BAD_VALUE", f"Error in WHERE clause: invalid value {token.text}.")

    def value_list(self) -> tuple[Value, ...]:
        if self.token.kind != "(":
            raise GaqlError("EXPECTED_LIST", "Error in WHERE clause: IN takes a list in parentheses.")
        self.take()
        if self.token.kind == ")":
            raise GaqlError("PROHIBITED_EMPTY_LIST_IN_CONDITION",
                            "Error in WHERE clause: the list must not be empty.")
        values = [self.value()]
        while self.token.kind == ",":
            self.take()
            values.append(self.value())
        self.need_more()
        if self.take().kind != ")":
            raise GaqlError("UNEXPECTED_INPUT", "Error in WHERE clause: expected ')'.")
        if len({value.kind for value in values}) > 1:
            raise GaqlError("PROHIBITED_VALUE_COMBINATION_IN_LIST",
                            "Error in WHERE clause: list values must be of one type.")
        return tuple(values)

    def order_by(self) -> list[tuple[str, bool]]:
        self.take()
        if not self.at("BY"):
            raise GaqlError("EXPECTED_BY", "Error in ORDER BY clause: expected BY after ORDER.")
        self.take()
        orderings = [self.ordering()]
        while self.token.kind == ",":
            self.take()
            orderings.append(self.ordering())
        return orderings

    def ordering(self) -> tuple[str, bool]:
        name = self.field_name("ORDER BY")
        descending = False
        if self.at("ASC") or self.at("DESC"):
            descending = self.take().upper == "DESC"
        return name, descending

    def limit(self) -> int:
        self.take()
        self.need_more()
        token = self.take()
        if token.kind != "number" or not token.text.lstrip("-").isdigit():
            raise GaqlError("BAD_LIMIT_VALUE", f"Error in LIMIT clause: invalid value '{token.text}'.")
        value = int(token.text)
        if value < 1:
            raise GaqlError("LIMIT_VALUE_TOO_LOW", "Error in LIMIT clause: the value must be positive.")
        return value

    def parameters(self) -> dict[str, str]:
        self.take()
        found: dict[str, str] = {}
        while True:
            self.need_more()
            name = self.take()
            if name.kind != "word" or self.take().text != "=":
                raise GaqlError("BAD_PARAMETER_NAME", f"Error in PARAMETERS: invalid '{name.text}'.")
            self.need_more()
            found[name.text.lower()] = self.take().text.lower()
            if self.token.kind != ",":
                return found
            self.take()


def parse(text: str) -> Query:
    """The query's syntax tree; GaqlError when the real API would reject its syntax."""
    return _Parser(text).parse()


def parse_date(value: Value) -> dt.date:
    """A date literal: 'YYYY-MM-DD' or 'YYYYMMDD' (quoted; the API also reads bare YYYYMMDD)."""
    text = value.text
    try:
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            return dt.date.fromisoformat(text)
        if len(text) == 8 and text.isdigit():
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        pass
    raise GaqlError("BAD_VALUE", f"Error in WHERE clause: invalid value {text}.")


def during(literal: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The inclusive range a DURING literal means on `today` (the account's calendar day)."""
    day = dt.timedelta(days=1)
    if literal == "TODAY":
        return today, today
    if literal == "YESTERDAY":
        return today - day, today - day
    if literal.startswith("LAST_") and literal.endswith("_DAYS"):
        count = int(literal[5:-5])
        return today - count * day, today - day  # today is excluded
    if literal == "THIS_MONTH":
        return today.replace(day=1), today
    if literal == "LAST_MONTH":
        end = today.replace(day=1) - day
        return end.replace(day=1), end
    monday = today - today.weekday() * day
    sunday = today - ((today.weekday() + 1) % 7) * day
    if literal == "THIS_WEEK_MON_TODAY":
        return monday, today
    if literal == "THIS_WEEK_SUN_TODAY":
        return sunday, today
    if literal == "LAST_WEEK_MON_SUN":
        return monday - 7 * day, monday - day
    if literal == "LAST_WEEK_SUN_SAT":
        return sunday - 7 * day, sunday - day
    if literal == "LAST_BUSINESS_WEEK":
        return monday - 7 * day, monday - 3 * day
    raise GaqlError("INVALID_VALUE_WITH_DURING_OPERATOR",
                    f"Error in WHERE clause: invalid date range literal '{literal}'.")
