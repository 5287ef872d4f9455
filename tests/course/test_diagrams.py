"""The committed diagrams are what amago_edu.course.diagrams draws (so they are made by code), and well-formed SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from amago_edu.course.diagrams import DIAGRAMS, FIGURES


@pytest.mark.parametrize("name", sorted(DIAGRAMS))
def test_committed_diagram_is_the_drawn_one(name):
    drawn = DIAGRAMS[name]()
    assert (FIGURES / name).read_text() == drawn, f"run `python -m amago_edu.course.diagrams` to redraw {name}"
    root = ET.fromstring(drawn)
    assert root.tag.endswith("svg") and len(root.findall(".//{http://www.w3.org/2000/svg}text")) >= 10


def test_the_architecture_shows_every_part_of_fig_2():
    text = DIAGRAMS["architecture.svg"]()
    for part in ("token e_t", "causal Transformer", "state s_t", "actor", "critics", "Eq. 3", "Eq. 4"):
        assert part in text
