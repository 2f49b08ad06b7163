"""The index of lecture decks the lessons cite (lessons/decks.py): every heading in it is a
heading of its deck, where the decks are present beside the repository (../shared/seeds)."""
from __future__ import annotations

from pathlib import Path

import pytest

from decks import DECKS, heading_lines, section, seeds_folder

ROOT = Path(__file__).resolve().parents[1]
SEEDS = seeds_folder(ROOT)


@pytest.mark.parametrize("number", sorted(DECKS))
def test_every_cited_heading_is_a_heading_of_its_deck(number: int) -> None:
    files = sorted(SEEDS.glob(f"{number:03d}_*.txt"))
    if not files:
        pytest.skip(f"the decks are not beside the repository ({SEEDS} has no {number:03d}_*.txt)")
    lines = heading_lines(files[0].read_text())
    missing = [h for h in DECKS[number].sections if h not in lines]
    assert not missing, f"deck {number:03d} has no heading line {missing}"


def test_section_names_a_deck_and_refuses_unknown_headings() -> None:
    assert section(4, "Chain Rule") == "Deck 004, “Chain Rule”"
    with pytest.raises(ValueError, match="no section 'Chain rule'"):
        section(4, "Chain rule")
    with pytest.raises(ValueError, match="the decks are"):
        section(5, "Chain Rule")


def test_footnote_marks_are_not_part_of_a_heading() -> None:
    assert "What happens when we move our filter?" in heading_lines(
        "What happens when we move our filter? <sup>5</sup>\n- a bullet")
