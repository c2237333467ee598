"""The semantics of `*.get_all`: filters, hidden objects, projection, ordering and paging, on plain dicts.

This is the hardest part of ClearML compatibility (wire protocol doc §8), so it is pure and unit-tested alone:
a request body goes in, a compiled `Query` comes out, and `Query.run(documents)` returns the reply rows.

Rules, in short:
- `name` (and other text fields) are regular expressions with search semantics;
- list filters (`tags`, `system_tags`, `id`, `status`, `type`, `project`, ...) mean ANY-of; `"-x"` or
  `"__$not", "x"` exclude; `"__$all"`/`"__$and"` switch to ALL-of, `"__$any"`/`"__$or"` back; `null` admits
  objects where the field is empty;
- datetime fields take `">iso"`-style comparisons, alone or as a list (all must hold);
- dotted metric paths take `[min, max]` ranges (`last_metrics.<md5>.<md5>.max_value`);
- `_or_`/`_any_`/`_all_` take `{fields, pattern}` or `{fields, datetime}`;
- hidden objects are left out unless `search_hidden` is true or explicit ids are given;
- keys that are not fields of the object (`method`, `allow_public`, ...) are ignored.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .documents import Doc, get_path, is_hidden, iso, parse_iso, project_fields
from .wire import VALIDATION_ERROR, Body, fail

Predicate = Callable[[Doc], bool]

_ALL_OPERATORS = ("__$all", "__$and")
_ANY_OPERATORS = ("__$any", "__$or")
_NOT_OPERATOR = "__$not"
_NOP_OPERATOR = "__$nop"
_COMPARISON = re.compile(r"^(>=|<=|>|<|==|=)?(.+)$", re.DOTALL)
_MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True)
class CollectionSpec:
    """What a collection's documents look like, as far as filtering is concerned."""

    fields: frozenset[str]  # top-level document fields that can be filtered on
    text_fields: frozenset[str] = frozenset({"name"})  # matched as regular expressions
    datetime_fields: frozenset[str] = frozenset()
    aliases: dict[str, str] = field(default_factory=dict)  # request key -> document field
    search_text_fields: tuple[str, ...] = ("id", "name")


@dataclass(frozen=True)
class ListCondition:
    all_of: frozenset[str]
    any_of: frozenset[str]
    none_of: frozenset[str]
    allow_empty: bool

    def matches(self, value: Any) -> bool:
        present = _as_value_set(value)
        if self.none_of & present:
            return False
        if not self.all_of <= present:
            return False
        if self.any_of or self.allow_empty:
            return bool(self.any_of & present) or (self.allow_empty and not present)
        return True


def parse_list_condition(key: str, values: list[Any]) -> ListCondition:
    all_of: set[str] = set()
    any_of: set[str] = set()
    none_of: set[str] = set()
    allow_empty = False
    mode_all = False
    negate_next = False
    for value in values:
        if value is None:
            allow_empty = True
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            fail(VALIDATION_ERROR, f"field '{key}' must hold strings")
        text = str(value)
        if text in _ALL_OPERATORS:
            mode_all = True
        elif text in _ANY_OPERATORS:
            mode_all = False
        elif text == _NOT_OPERATOR:
            negate_next = True
        elif text == _NOP_OPERATOR:
            mode_all, negate_next = False, False
        elif negate_next:
            none_of.add(text)
            negate_next = False
        elif text.startswith("-") and len(text) > 1:
            none_of.add(text[1:])
        elif mode_all:
            all_of.add(text)
        else:
            any_of.add(text)
    return ListCondition(frozenset(all_of), frozenset(any_of), frozenset(none_of), allow_empty)


def _as_value_set(value: Any) -> set[str]:
    if value is None or value == "":
        return set()
    if isinstance(value, list):
        return {str(item) for item in value if item is not None and item != ""}
    if isinstance(value, bool):
        return {str(value).lower()}
    return {str(value)}


def _compile_regex(key: str, pattern: Any) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        fail(VALIDATION_ERROR, f"field '{key}' must be a string (a regular expression)")
    try:
        return re.compile(pattern)
    except re.error as error:
        fail(VALIDATION_ERROR, f"field '{key}' is not a valid regular expression ({error})")


def _regex_matches(regex: re.Pattern[str], value: Any) -> bool:
    if isinstance(value, list):
        return any(isinstance(item, str) and regex.search(item) for item in value)
    return isinstance(value, str) and regex.search(value) is not None


DatetimeCheck = Callable[[datetime], bool]


def _parse_datetime_conditions(key: str, raw: Any) -> list[DatetimeCheck]:
    return [_comparison(operator, moment) for operator, moment in _datetime_conditions(key, raw)]


def _datetime_conditions(key: str, raw: Any) -> list[tuple[str, datetime]]:
    """(operator, moment) of each condition of a datetime filter; a malformed one is a 400 naming the field."""
    items = raw if isinstance(raw, list) else [raw]
    conditions: list[tuple[str, datetime]] = []
    for item in items:
        if item is None:
            continue
        if _is_number(item):
            item = str(item)
        if not isinstance(item, str):
            fail(VALIDATION_ERROR, f"field '{key}' must hold datetime conditions such as '>2026-01-01T00:00:00'")
        match = _COMPARISON.match(item.strip())
        moment = _parse_moment(match.group(2)) if match else None
        if match is None or moment is None:
            fail(VALIDATION_ERROR, f"field '{key}' has an invalid datetime condition '{item}'")
        conditions.append((match.group(1) or "==", moment))
    return conditions


def _parse_moment(text: str) -> datetime | None:
    """An ISO-8601 datetime or epoch seconds (both are accepted by the API)."""
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return parse_iso(text)


def _comparison(operator: str, moment: datetime) -> DatetimeCheck:
    if operator == ">":
        return lambda value: value > moment
    if operator == ">=":
        return lambda value: value >= moment
    if operator == "<":
        return lambda value: value < moment
    if operator == "<=":
        return lambda value: value <= moment
    return lambda value: value == moment


def _datetime_matches(checks: list[DatetimeCheck], value: Any) -> bool:
    moment = parse_iso(value) if isinstance(value, str) else None
    return moment is not None and all(check(moment) for check in checks)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_range(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(item is None or _is_number(item) for item in value)
        and any(_is_number(item) for item in value)
    )


def _range_predicate(path: str, bounds: list[Any]) -> Predicate:
    low, high = bounds

    def matches(doc: Doc) -> bool:
        value = get_path(doc, path)
        if not _is_number(value):
            return False
        return (low is None or value >= low) and (high is None or value <= high)

    return matches


def _field_predicate(spec: CollectionSpec, path: str, raw: Any) -> Predicate | None:
    top = path.split(".", 1)[0]
    if top in spec.datetime_fields and path == top and raw not in ([], None):
        checks = _parse_datetime_conditions(path, raw)
        return lambda doc: _datetime_matches(checks, doc.get(path))
    if top in spec.text_fields and path == top:
        if raw is None or raw == "":
            return None
        regex = _compile_regex(path, raw)
        return lambda doc: _regex_matches(regex, doc.get(path))
    if _is_range(raw) and path != top:
        return _range_predicate(path, raw)
    if isinstance(raw, list):
        if not raw:
            return None
        condition = parse_list_condition(path, raw)
        return lambda doc: condition.matches(get_path(doc, path))
    if raw is None:
        return None
    if isinstance(raw, dict):
        fail(VALIDATION_ERROR, f"field '{path}' cannot be matched against an object")
    expected = raw

    def equals(doc: Doc) -> bool:
        value = get_path(doc, path)
        if isinstance(value, list):
            return expected in value
        if isinstance(expected, bool):
            return bool(value) == expected
        return value == expected or (value is not None and not _is_number(value) and str(value) == str(expected))

    return equals


def _multi_field_predicate(spec: CollectionSpec, key: str, raw: Any) -> Predicate | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        fail(VALIDATION_ERROR, f"field '{key}' must be an object with 'fields' and 'pattern' or 'datetime'")
    fields = raw.get("fields")
    if not isinstance(fields, list) or not fields or not all(isinstance(name, str) for name in fields):
        fail(VALIDATION_ERROR, f"field '{key}.fields' must be a non-empty array of field names")
    if raw.get("datetime") is not None:
        checks = _parse_datetime_conditions(f"{key}.datetime", raw["datetime"])

        def one(doc: Doc, name: str) -> bool:
            return _datetime_matches(checks, get_path(doc, name))

    elif raw.get("pattern") is not None:
        regex = _compile_regex(f"{key}.pattern", raw["pattern"])

        def one(doc: Doc, name: str) -> bool:
            return _regex_matches(regex, get_path(doc, name))

    else:
        return None
    combine = all if key == "_all_" else any
    return lambda doc: combine(one(doc, name) for name in fields)


@dataclass(frozen=True)
class Query:
    predicates: tuple[Predicate, ...]
    include_hidden: bool
    only_fields: tuple[str, ...] | None
    order_by: tuple[str, ...]
    offset: int
    limit: int | None
    ids: tuple[str, ...] | None  # for the store: fetch only these
    projects: tuple[str, ...] | None  # for the store: fetch only these projects (a plain include list)
    changed_since: str | None  # for the store: fetch only rows whose last_update is at or after this (stored format)
    fields_used: frozenset[str]  # top-level fields the filters and the order read (not the projection)

    def narrowed(self, predicate: Predicate, field: str) -> Query:
        """The same query with one more condition on `field` (for endpoint options such as shallow_search)."""
        return dataclasses.replace(
            self, predicates=(*self.predicates, predicate), fields_used=self.fields_used | {field}
        )

    def matches(self, doc: Doc) -> bool:
        if not self.include_hidden and is_hidden(doc):
            return False
        return all(predicate(doc) for predicate in self.predicates)

    def select(self, docs: Iterable[Doc]) -> list[Doc]:
        """Filter, order and page (documents or summaries holding `fields_used`)."""
        rows = sort_documents([doc for doc in docs if self.matches(doc)], self.order_by)
        end = None if self.limit is None else self.offset + self.limit
        return rows[self.offset : end]

    def project(self, docs: Iterable[Doc]) -> list[Doc]:
        return [project_fields(doc, list(self.only_fields) if self.only_fields else None) for doc in docs]

    def run(self, docs: Iterable[Doc]) -> list[Doc]:
        """Filter, order, page and project: the rows of the reply."""
        return self.project(self.select(docs))


def compile_query(body: dict[str, Any], spec: CollectionSpec) -> Query:
    """Turn a get_all request body into a Query; a malformed filter is a 400 naming the field."""
    predicates: list[Predicate] = []
    used: set[str] = set()
    for raw_key, raw in body.items():
        key = spec.aliases.get(raw_key, raw_key)
        if key in ("_or_", "_any_", "_all_"):
            predicate = _multi_field_predicate(spec, key, raw)
            names = raw.get("fields", []) if isinstance(raw, dict) else []
        elif key.split(".", 1)[0] in spec.fields:
            predicate = _field_predicate(spec, key, raw)
            names = [key]
        else:
            continue  # control keys and unknown keys never filter
        if predicate is not None:
            predicates.append(predicate)
            used.update(str(name).split(".", 1)[0] for name in names)

    search_text = body.get("search_text")
    if isinstance(search_text, str) and search_text:
        needle = search_text.lower()
        names = spec.search_text_fields
        predicates.append(lambda doc: any(needle in str(doc.get(name) or "").lower() for name in names))
        used.update(names)

    ids = body.get("id")
    id_list = tuple(ids) if isinstance(ids, list) and ids and all(isinstance(item, str) for item in ids) else None
    if isinstance(ids, str) and ids:
        id_list = (ids,)
    plain_ids = id_list if id_list and not any(item.startswith(("-", "__$")) for item in id_list) else None
    projects = body.get("project")
    plain_projects = (
        tuple(projects)
        if isinstance(projects, list)
        and projects
        and all(isinstance(item, str) and not item.startswith(("-", "__$")) for item in projects)
        else None
    )
    search_hidden = body.get("search_hidden") is True
    only_fields = Body(body).strings("only_fields")
    order_by = Body(body).strings("order_by") or []
    offset, limit = _paging(body)
    include_hidden = search_hidden or plain_ids is not None
    used.update(path.lstrip("-").split(".", 1)[0] for path in order_by)
    if not include_hidden:
        used.add("system_tags")
    return Query(
        predicates=tuple(predicates),
        include_hidden=include_hidden,
        only_fields=tuple(only_fields) if only_fields else None,
        order_by=tuple(order_by),
        offset=offset,
        limit=limit,
        ids=plain_ids,
        projects=plain_projects,
        changed_since=_lower_bound(spec, body.get("last_update")),
        fields_used=frozenset(used),
    )


def _lower_bound(spec: CollectionSpec, raw: Any) -> str | None:
    """The latest `>`/`>=` bound of a `last_update` filter, as a stored stamp, for the store to narrow on (the
    filter's own predicate still decides each row exactly); None without one."""
    if "last_update" not in spec.datetime_fields or raw in (None, []):
        return None
    bounds = [moment for operator, moment in _datetime_conditions("last_update", raw) if operator in (">", ">=")]
    return iso(max(bounds)) if bounds else None


def _paging(body: dict[str, Any]) -> tuple[int, int | None]:
    def integer(key: str) -> int | None:
        value = body.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            fail(VALIDATION_ERROR, f"field '{key}' must be a non-negative integer")
        return value

    page, page_size, size = integer("page"), integer("page_size"), integer("size")
    if size is not None:  # get_all_ex scrolling: scroll_id carries the offset of the next batch
        return scroll_offset(body.get("scroll_id")), min(size, _MAX_PAGE_SIZE)
    if page_size is None:
        return 0, None
    page_size = min(page_size, _MAX_PAGE_SIZE)
    return (page or 0) * page_size, page_size


def scroll_offset(scroll_id: Any) -> int:
    if isinstance(scroll_id, str) and scroll_id.isdigit():
        return int(scroll_id)
    return 0


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if _is_number(value):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, json.dumps(value, sort_keys=True, default=str))


def _sort_key_at(path: str) -> Callable[[Doc], tuple[int, Any]]:
    return lambda doc: _sort_key(get_path(doc, path))


def sort_documents(docs: list[Doc], order_by: Iterable[str]) -> list[Doc]:
    """Stable multi-key sort; `-field` is descending; missing values sort first (ascending), like Mongo."""
    result = list(docs)
    for spec in reversed([item for item in order_by if item and not item.lstrip("-").startswith("@")]):
        descending = spec.startswith("-")
        path = spec.lstrip("-")
        result.sort(key=_sort_key_at(path), reverse=descending)
    return result
