"""The five lecture decks the course follows, and the section headings a lesson step cites.

A step names what it follows as ``L.step("title", deck=(3, "Practice with Linear Filters"))``:
deck 003, the section with that heading. The decks themselves are not part of this
repository (they live in ``../shared/seeds/NNN_*.txt`` beside it); this index holds only
their titles and the headings the lessons cite, so that a typo in a citation fails at once
(``section`` raises) and ``tests/test_decks.py`` can check, where the decks are present,
that every heading here really is a heading (a line of its own) in its deck.

Headings are copied as the deck writes them, capitals and typos included ("proporty").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Deck:
    number: int
    title: str
    sections: tuple[str, ...]


DECKS = {
    0: Deck(0, "Applications of Neural Networks to strings and sequences (M. Barsky)", (
        "Problem with number of layers and number of neurons",
        "Recognizing local regions of the image",
        "Detecting image patterns",
        "The “filter” idea",
        "Comparing input patch to a filter",
        "Learning matrix F",
        "Optimizing (matching) filter to a patch",
        "Computing convolution for the entire image",
        "Filter convolving across the image",
        "Volume: collection of matrices",
        "The volume convolves as a single input",
        "Input image as a volume of 3 color channels",
        "CNN: parameters",
        "CNN for sequence classification",
        "1D convolution",
        "How CNN sees images after learning",
        "Experiment: understanding learned patterns (filters)",
        "VGG-16",
        "Networks that model sequences",
        "How RNN works",
        "Training RNN",
        "Current state depends on the current symbol and the previous state",
        "Same activation for all neurons in the recurrent layer",
        "Output: as before",
    )),
    1: Deck(1, "CNN and RNN (H. Raza, University of Essex)", (
        "Why convolution neural networks?",
        "Parameter sharing",
        "Sparsity of connections",
        "STEP 1: PREPARE A DATASET OF IMAGES",
        "POPULAR DATASETS FOR IMAGES",
        "STEP 2: CONVOLUTION...",
        "Creating model using keras",
        "Visualization of the receptive field",
        "What happens when we move our filter?",
        "STEP 3: POOLING....",
        "STEP 4: ACTIVATION FUNCTION (RELU)",
        "STEP 5: REGULARIZATION (DROPOUT)",
        "STEP 6: PROBABILITY CONVERSION.....",
        "STEP 6: GET ERROR AND UPDATE WEIGHTS",
        "WHAT IS SEQUENCE PROCESSING",
        "VECTORIZING & TOKENIZATION",
        "RNN USING NUMPY",
        "RNN IMPLEMENTATION NUMPY",
        "RECURRENT LAYER IN KERAS",
        "SIMPLE RNN",
        "Understanding the LSTM and GRU layers",
        "LSTM (LONG SHORT-TERM MEMORY)",
        "How to improve LSTM",
    )),
    2: Deck(2, "Convolutional and Recurrent Neural Networks (Data Science Decal, Berkeley)", (
        "Problem: high-dimensional image data",
        "Solution: convolutions",
        "Our first CNN",
        "Would you classify this as an X?",
        "What is a feature?",
        "Filters",
        "CNN Layers: Convolutions",
        "CNN Layers: Pooling",
        "CNN Layers: Activation",
        "Let's put it all together!",
        "CNN: Fully Connected Layer",
        "VGG-16 (2014)",
        "Problem: sequential input",
        "Problem: long-term dependencies",
        "Solution: LSTMs",
        "Inside of an LSTM cell",
        "Core idea behind LSTMs",
        "Steps in an LSTM",
        "Demos",
    )),
    3: Deck(3, "Neural Networks 2 (CS446 Machine Learning)", (
        "Basic Unit : Neuron",
        "Stack them up",
        "Derivation of Learning Rule",
        "The Backpropagation Algorithm",
        "Recurrent Neural Networks",
        "RNN cell",
        "Feeding a sequence to an RNN",
        "RNNs",
        "Sentiment Classification",
        "Backpropagation through Time",
        "An Issue With RNNs",
        "Summary",
        "Moving Average",
        "Convolution",
        "Practice with Linear Filters",
        "Sharpening Filter",
        "Convolution Layer",
        "Pooling Layer",
        "Some Facts",
        "An example: VGG",
    )),
    4: Deck(4, "Machine Learning 10-601/301 (T. Mitchell, CMU)", (
        "Convolutional Neural Nets",
        "Convolution as parameter sharing",
        "What is derivative of out with respect to inputs?",
        "A Convolutional Neural Net for Handwritten Digit recognition: LeNet5*",
        "A Convolutional Neural Net for Handwritten Digit recognition: LeNet",
        "Recurrent Networks",
        "Training Recurrent Networks",
        "Example: RNN to predict next character in string",
        "Generated strings at different stages of training",
        "Chain Rule",
        "Recurrent Neural Network Language Models",
        "Example: Opinion Mining",
        "Deep Bidirectional Recurrent Network",
        "Bi-directional Recurrent Neural Networks",
        "Gated Recurrent Units (GRUs)",
        "Sequence to Sequence Learning",
        "Programming Frameworks for Deep Nets",
    )),
}


def section(number: int, heading: str) -> str:
    """``'Deck 003, “Practice with Linear Filters”'``; raises if the deck has no such heading
    in this index (a misspelt citation fails when the lesson runs, not at a reader's desk)."""
    if number not in DECKS:
        raise ValueError(f"deck {number}: the decks are {sorted(DECKS)}")
    if heading not in DECKS[number].sections:
        raise ValueError(f"deck {number:03d} has no section {heading!r} in lessons/decks.py; "
                         f"its sections: {DECKS[number].sections}")
    return f"Deck {number:03d}, “{heading}”"


def seeds_folder(root: Path) -> Path:
    """Where the decks' text lies next to the repository (``../shared/seeds``)."""
    return root.parent / "shared" / "seeds"


FOOTNOTE = re.compile(r"\s*<sup>[^<]*</sup>\s*$")


def heading_lines(text: str) -> set[str]:
    """A deck's lines as headings: without Markdown's #'s, ** and a footnote mark, stripped."""
    return {FOOTNOTE.sub("", line.strip().lstrip("#").strip().replace("**", ""))
            for line in text.splitlines()}
