"""A clearml-serving `custom` engine for contract tests: answers with the content of the model file it loaded."""

from typing import Any


class Preprocess:
    def __init__(self) -> None:
        self.model_content = ""

    def load(self, local_file_name: str) -> Any:
        with open(local_file_name) as handle:
            self.model_content = handle.read()
        return self.model_content

    def preprocess(self, body: dict, state: dict, collect_custom_statistics_fn: Any = None) -> Any:
        return body

    def process(self, data: Any, state: dict, collect_custom_statistics_fn: Any = None) -> Any:
        return {"model": self.model_content, "echo": data}

    def postprocess(self, data: Any, state: dict, collect_custom_statistics_fn: Any = None) -> dict:
        return data
