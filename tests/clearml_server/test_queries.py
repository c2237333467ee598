"""The get_all semantics of wire protocol doc §8, on plain dicts."""

from __future__ import annotations

import hashlib

import pytest

from services.clearml_server.queries import CollectionSpec, compile_query, parse_list_condition, sort_documents
from services.clearml_server.wire import ApiError

SPEC = CollectionSpec(
    fields=frozenset(
        {
            "id",
            "name",
            "tags",
            "system_tags",
            "status",
            "type",
            "project",
            "last_update",
            "last_metrics",
            "runtime",
            "ready",
        }
    ),
    datetime_fields=frozenset({"last_update"}),
    aliases={"task_types": "type"},
)


def doc(id_: str, **fields: object) -> dict[str, object]:
    return {"id": id_, "name": id_, "tags": [], "system_tags": [], **fields}


def ids(body: dict[str, object], docs: list[dict[str, object]]) -> list[str]:
    return [row["id"] for row in compile_query(body, SPEC).run(docs)]


def test_name_is_a_regex_with_search_semantics() -> None:
    docs = [doc("a", name="keras-clf"), doc("b", name="keras-clf-2"), doc("c", name="other")]
    assert ids({"name": r"^keras\-clf$"}, docs) == ["a"]
    assert ids({"name": "keras"}, docs) == ["a", "b"]


def test_invalid_regex_is_a_validation_error_naming_the_field() -> None:
    with pytest.raises(ApiError) as error:
        compile_query({"name": "(unclosed"}, SPEC)
    assert error.value.code.http == 400 and "'name'" in error.value.message


def test_plain_tag_list_means_any_of() -> None:
    docs = [doc("a", tags=["x"]), doc("b", tags=["y"]), doc("c", tags=["z"])]
    assert ids({"tags": ["x", "y"]}, docs) == ["a", "b"]


def test_all_operator_requires_every_tag_and_not_excludes() -> None:
    docs = [
        doc("a", system_tags=["dataset"]),
        doc("b", system_tags=["dataset", "archived"]),
        doc("c", system_tags=[]),
    ]
    assert ids({"system_tags": ["__$all", "dataset", "__$not", "archived"]}, docs) == ["a"]


def test_minus_prefix_excludes() -> None:
    docs = [doc("a", system_tags=["archived"]), doc("b", system_tags=["x"]), doc("c")]
    assert ids({"system_tags": ["-archived"]}, docs) == ["b", "c"]


def test_any_operator_switches_back_from_all() -> None:
    condition = parse_list_condition("tags", ["__$all", "a", "b", "__$any", "c", "d"])
    assert condition.matches(["a", "b", "c"])
    assert not condition.matches(["a", "b"])
    assert not condition.matches(["a", "c"])


def test_null_admits_empty_fields() -> None:
    docs = [doc("a", tags=["x"]), doc("b", tags=[]), doc("c", tags=["y"])]
    assert ids({"tags": [None, "x"]}, docs) == ["a", "b"]


def test_scalar_fields_take_list_filters_and_aliases() -> None:
    docs = [doc("a", status="completed", type="data_processing"), doc("b", status="created", type="training")]
    assert ids({"status": ["completed"], "task_types": ["data_processing"]}, docs) == ["a"]
    assert ids({"status": ["-completed"]}, docs) == ["b"]


def test_hidden_objects_need_search_hidden_unless_ids_are_given() -> None:
    docs = [doc("a", system_tags=["hidden"]), doc("b")]
    assert ids({}, docs) == ["b"]
    assert ids({"search_hidden": True}, docs) == ["a", "b"]
    assert ids({"id": ["a"]}, docs) == ["a"]


def test_unknown_and_control_keys_never_filter() -> None:
    docs = [doc("a"), doc("b")]
    assert ids({"method": "get", "allow_public": True, "_allow_extra_fields_": True}, docs) == ["a", "b"]


def test_only_fields_keeps_an_empty_parent_for_a_missing_child() -> None:
    rows = compile_query({"only_fields": ["runtime.version", "name"]}, SPEC).run([doc("a", runtime={})])
    assert rows == [{"id": "a", "name": "a", "runtime": {}}]


def test_only_fields_projects_dotted_paths() -> None:
    rows = compile_query({"only_fields": ["runtime.version"]}, SPEC).run(
        [doc("a", runtime={"version": "1.0.1", "x": 1})]
    )
    assert rows == [{"id": "a", "runtime": {"version": "1.0.1"}}]


def test_order_by_descending_and_paging() -> None:
    docs = [doc(str(n), last_update=f"2026-01-0{n}T00:00:00+00:00") for n in range(1, 6)]
    assert ids({"order_by": ["-last_update"], "page": 0, "page_size": 2}, docs) == ["5", "4"]
    assert ids({"order_by": ["-last_update"], "page": 2, "page_size": 2}, docs) == ["1"]


def test_sort_puts_missing_values_first_when_ascending() -> None:
    rows = sort_documents([{"id": "a", "x": 2}, {"id": "b"}, {"id": "c", "x": 1}], ["x"])
    assert [row["id"] for row in rows] == ["b", "c", "a"]


def test_or_datetime_filter_over_two_fields_is_strictly_greater() -> None:
    docs = [
        doc("old", last_update="2026-11-24T03:00:00+00:00", last_change="2026-11-24T03:00:00+00:00"),
        doc("edge", last_update="2026-11-24T03:58:42.955373+00:00"),
        doc("changed", last_update="2026-11-24T01:00:00+00:00", last_change="2026-11-24T04:00:00+00:00"),
    ]
    body = {"_or_": {"fields": ["last_update", "last_change"], "datetime": [">2026-11-24T03:58:42.955373+00:00"]}}
    assert ids(body, docs) == ["changed"]


def test_datetime_field_accepts_ranges_and_epoch_seconds() -> None:
    docs = [doc("a", last_update="2026-01-01T00:00:00+00:00"), doc("b", last_update="2026-06-01T00:00:00+00:00")]
    assert ids({"last_update": [">=2026-03-01T00:00:00", "<2027-01-01T00:00:00"]}, docs) == ["b"]
    assert ids({"last_update": ">1767225601"}, docs) == ["b"]


def test_invalid_datetime_condition_is_rejected() -> None:
    with pytest.raises(ApiError):
        compile_query({"last_update": ">yesterday"}, SPEC)


def test_metric_range_filter_on_md5_paths() -> None:
    metric, variant = hashlib.md5(b"acc").hexdigest(), hashlib.md5(b"val").hexdigest()
    docs = [
        doc("low", last_metrics={metric: {variant: {"max_value": 0.5}}}),
        doc("high", last_metrics={metric: {variant: {"max_value": 0.95}}}),
        doc("none"),
    ]
    assert ids({f"last_metrics.{metric}.{variant}.max_value": [0.9, None]}, docs) == ["high"]


def test_pattern_over_fields_any_and_all() -> None:
    docs = [doc("a", name="alpha", status="x"), doc("b", name="beta", status="alpha")]
    assert ids({"_any_": {"fields": ["name", "status"], "pattern": "^alpha"}}, docs) == ["a", "b"]
    assert ids({"_all_": {"fields": ["name", "status"], "pattern": "a"}}, docs) == ["b"]


def test_boolean_equality() -> None:
    docs = [doc("a", ready=True), doc("b", ready=False), doc("c")]
    assert ids({"ready": True}, docs) == ["a"]
    assert ids({"ready": False}, docs) == ["b", "c"]


def test_store_hints_are_only_plain_lists() -> None:
    assert compile_query({"id": ["a", "b"]}, SPEC).ids == ("a", "b")
    assert compile_query({"project": ["-p"]}, SPEC).projects is None
    assert compile_query({"project": ["p1"]}, SPEC).projects == ("p1",)


@pytest.mark.parametrize(
    "bad", [{"page": -1, "page_size": 1}, {"page_size": "ten"}, {"only_fields": [1]}, {"tags": [{}]}]
)
def test_malformed_query_fields_are_validation_errors(bad: dict[str, object]) -> None:
    with pytest.raises(ApiError):
        compile_query(bad, SPEC)
