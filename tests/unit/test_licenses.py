"""`make licenses` (tools/licenses.py): the GPL rule on licence expressions and on real
distribution metadata, bundled-library lists and SBOMs included."""

from __future__ import annotations

import json
from importlib.metadata import PathDistribution, distribution
from pathlib import Path

import pytest

from tools import licenses
from tools.licenses import Layer, package, refused

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("expression", "is_refused"),
    [
        ("GPL-3.0-only", True),
        ("GPL-2.0-or-later", True),
        ("GPLv2", True),
        ("AGPL-3.0-only", True),
        ("AGPL-3.0-or-later WITH Classpath-exception-2.0", True),  # AGPL: no exception helps
        ("LGPL-3.0-only", False),
        ("LGPL-2.1-or-later", False),
        ("LGPLv3", False),
        # a linking exception keeps the code linking to it out of the GPL, as the LGPL does
        ("GPL-2.0-or-later WITH Classpath-exception-2.0", False),
        ("GPL-3.0-or-later WITH GCC-exception-3.1", False),
        ("GPL-3.0-with-GCC-exception (libgcc, libstdc++), MIT and BSD (libwinpthread)", False),
        ("GPL-2.0-or-later WITH Autoconf-exception-2.0", True),  # not about linking
        ("MIT", False),
        ("BSD-3-Clause", False),
        ("Apache-2.0", False),
        ("MPL-2.0", False),
        ("Apache-2.0 OR GPL-2.0-only", False),  # a choice: take Apache
        ("MIT AND GPL-3.0-only", True),  # both apply
        ("(MIT OR GPL-3.0-only) AND AGPL-3.0-only", True),
        ("(MIT OR GPL-3.0-only) AND LGPL-2.1-only", False),
        ("GPL-2.0-only OR GPL-3.0-only", True),
    ],
)
def test_the_rule_on_licence_expressions(expression: str, is_refused: bool) -> None:
    assert refused(expression) is is_refused


def dist(tmp_path: Path, *headers: str, files: dict[str, str] | None = None) -> PathDistribution:
    """A real dist-info folder: METADATA with `headers`, and `files` (path -> text) in it."""
    folder = tmp_path / "sample-1.0.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(
        "\n".join(["Metadata-Version: 2.4", "Name: sample", "Version: 1.0", *headers]) + "\n"
    )
    record = ["sample-1.0.dist-info/METADATA,,"]
    for name, text in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
        record.append(f"sample-1.0.dist-info/{name},,")
    (folder / "RECORD").write_text("\n".join(record) + "\n")
    return PathDistribution(folder)


@pytest.mark.parametrize(
    ("classifier", "is_refused"),
    [
        ("GNU General Public License v3 (GPLv3)", True),
        ("GNU General Public License v2 or later (GPLv2+)", True),
        ("GNU Affero General Public License v3", True),
        ("GNU Lesser General Public License v3 (LGPLv3)", False),
        ("GNU Library or Lesser General Public License (LGPL)", False),
        ("MIT License", False),
        ("BSD License", False),
    ],
)
def test_classifier_only_metadata(tmp_path: Path, classifier: str, is_refused: bool) -> None:
    sample = package(dist(tmp_path, f"Classifier: License :: OSI Approved :: {classifier}"))

    assert bool(sample.refusals) is is_refused
    assert sample.own == classifier


def test_a_licence_expression_is_the_package_own_licence(tmp_path: Path) -> None:
    # PEP 639: with License-Expression, the licence classifiers are not the licence
    sample = package(
        dist(
            tmp_path,
            "License-Expression: MIT",
            "Classifier: License :: OSI Approved :: GNU General Public License v3 (GPLv3)",
        )
    )

    assert sample.refusals == ()
    assert sample.own == "MIT"


def test_a_whole_licence_text_is_judged_by_its_title(tmp_path: Path) -> None:
    # The LGPL's own text names the GPL it builds on: only its title says what it is
    lgpl_text = (
        "GNU LESSER GENERAL PUBLIC LICENSE\n Version 3, 29 June 2007\n This version of the GNU"
        " Lesser General Public License incorporates the terms and conditions of version 3 of"
        " the GNU General Public License, supplemented by the additional permissions below."
    )
    gpl_text = "GNU GENERAL PUBLIC LICENSE\n Version 3, 29 June 2007\n" + " Everyone" * 30

    lgpl = package(dist(tmp_path / "lgpl", f"License: {lgpl_text}"))
    gpl = package(dist(tmp_path / "gpl", f"License: {gpl_text}"))

    assert lgpl.refusals == ()
    assert lgpl.own == "text: GNU LESSER GENERAL PUBLIC LICENSE"
    assert [lic.text for lic in gpl.refusals] == ["text: GNU GENERAL PUBLIC LICENSE"]


def test_a_package_that_states_no_licence_is_refused(tmp_path: Path) -> None:
    sample = package(dist(tmp_path, "License: UNKNOWN"))

    assert [lic.text for lic in sample.refusals] == ["no licence stated"]
    assert sample.own == "unknown"


def test_a_gpl_library_in_the_bundled_list_is_refused(tmp_path: Path) -> None:
    bundled = "Name: libfoo\nLicense: LGPLv3\n\nName: libbar\nFiles: libbar.so\nLicense: GPLv2\n"
    sample = package(
        dist(
            tmp_path,
            "License: BSD-3-Clause",
            "License-File: LICENSES_bundled.txt",
            files={"licenses/LICENSES_bundled.txt": bundled},
        )
    )

    assert [(lic.source, lic.text) for lic in sample.refusals] == [
        ("bundled: LICENSES_bundled.txt", "GPLv2")
    ]


def test_sbom_components_count_unless_they_are_optional(tmp_path: Path) -> None:
    def bom(scope: str | None) -> str:
        component = {"name": "libq", "licenses": [{"license": {"id": "GPL-3.0-or-later"}}]}
        if scope:
            component["scope"] = scope
        return json.dumps({"bomFormat": "CycloneDX", "components": [component]})

    shipped = package(dist(tmp_path / "a", "License: MIT", files={"sboms/x.cdx.json": bom(None)}))
    optional = package(
        dist(tmp_path / "b", "License: MIT", files={"sboms/x.cdx.json": bom("optional")})
    )

    assert [(lic.source, lic.text) for lic in shipped.refusals] == [
        ("sbom: libq", "GPL-3.0-or-later")
    ]
    assert optional.refusals == ()


def test_pillow_heif_is_refused_for_the_x265_its_wheel_bundles_and_pi_heif_passes() -> None:
    # The real metadata of the dev venv's pillow-heif (requirements-dev.txt) and pi-heif
    pillow_heif = package(distribution("pillow-heif"))
    pi_heif = package(distribution("pi-heif"))

    assert pillow_heif.own == "BSD-3-Clause"  # its source; its binary wheels are not
    refusals = [(lic.source, lic.text) for lic in pillow_heif.refusals]
    assert ("bundled: LICENSES_bundled.txt", "GPLv2") in refusals  # x265 and the wheel
    assert {source for source, _ in refusals} == {"bundled: LICENSES_bundled.txt"}
    assert pi_heif.refusals == ()
    assert {lic.text for lic in pi_heif.bundled} == {"LGPLv3"}  # libheif, libde265


def test_the_layers_are_read_from_the_template() -> None:
    found = {layer.name: layer for layer in licenses.layers()}

    assert {"DependenciesLayer", "JwksLayer", "ImagingLayer"} <= set(found)
    assert "SharedLayer" not in found  # our own code: no requirements.txt
    assert found["ImagingLayer"] == Layer(
        "ImagingLayer", ROOT / "layers" / "imaging" / "requirements.txt", "x86_64", "3.13"
    )
    assert found["DependenciesLayer"].requirements == ROOT / "layers" / "requirements.txt"


def test_the_table_names_what_is_refused_and_where(tmp_path: Path) -> None:
    layer = Layer(
        "ImagingLayer", ROOT / "layers" / "imaging" / "requirements.txt", "x86_64", "3.13"
    )

    text = licenses.table(layer, [package(distribution("pillow-heif"))])

    assert text.splitlines()[0] == "== ImagingLayer (layers/imaging/requirements.txt, x86_64)"
    assert "REFUSED: GPLv2 (bundled: LICENSES_bundled.txt)" in text
