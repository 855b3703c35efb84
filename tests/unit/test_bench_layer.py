"""bench/layer.py's per-function size: a function's code and every layer it can run with,
against Lambda's 250 MiB for the unzipped whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import layer
from devkit.template import load_template, resources_of_type


def write(folder: Path, size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "file.bin").write_bytes(b"\0" * size)


def test_each_function_counts_its_code_and_every_layer_it_may_attach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a build where each folder of the template holds a file of a known size
    monkeypatch.setattr(layer, "BUILD_DIR", tmp_path)
    template = load_template()
    names = [
        *resources_of_type(template, "AWS::Serverless::Function"),
        *resources_of_type(template, "AWS::Serverless::LayerVersion"),
    ]
    for index, name in enumerate(names):
        write(tmp_path / name, 1000 * (index + 1))

    # When
    rows = {row.metric: row for row in layer.function_size_rows()}

    # Then upload counts the globals' layers, its imaging layer and the JWKS one its !If adds
    upload = rows["UploadFunction and its layers: unzipped"]
    assert set(upload.data["parts"]) == {
        "UploadFunction",
        "DependenciesLayer",
        "SharedLayer",
        "ImagingLayer",
        "JwksLayer",
    }
    assert upload.data["bytes"] == sum(upload.data["parts"].values())
    assert "FacesLayer" in rows["RenditionsFunction and its layers: unzipped"].data["parts"]
    assert "ImagingLayer" not in rows["SignedFetchFunction and its layers: unzipped"].data["parts"]
    assert upload.budget is not None
    assert upload.budget.limit == pytest.approx(262.144)


def test_a_function_over_lambdas_limit_misses_its_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layer, "BUILD_DIR", tmp_path)
    for name in ("RetentionFunction", *layer.function_layers("RetentionFunction")):
        write(tmp_path / name, 10)
    with (tmp_path / "DependenciesLayer" / "big.bin").open("wb") as big:
        big.truncate(262_144_001)  # sparse: nothing is written

    (row,) = [r for r in layer.function_size_rows() if r.metric.startswith("RetentionFunction")]

    assert row.value > layer.LAMBDA_UNZIPPED_LIMIT_MB
    assert row.status == "NOT MET"
