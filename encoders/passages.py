"""Long texts split into overlapping passages that each fit a model's window.

A transformer reads at most ``max_length`` tokens (two of them ``[CLS]`` and
``[SEP]``); whatever follows is cut off. :class:`Splitter` tokenizes the whole
text with the model's own tokenizer, cuts the tokens into windows of
``window`` tokens that start every ``stride`` tokens, and returns each window
as the slice of the original text it covers. Cuts fall on word starts (a window
never begins inside a word, where WordPiece would read ``##`` pieces
differently), so a passage re-tokenizes to the window's own tokens, give or take
the word at its end.

:class:`Lengths` counts what splitting saves: the documents longer than the
window and the tokens past it, which truncation would have dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from tokenizers import Encoding, Tokenizer

# [CLS] and [SEP]: the tokens a BERT-style model adds around every text.
SPECIAL_TOKENS = 2
# A cut moves at most this many tokens to reach a word start.
MAX_WORD_TOKENS = 16


@dataclass(frozen=True)
class PassageWindow:
    """``window`` content tokens per passage, a new passage every ``stride`` tokens
    (``stride < window`` makes them overlap; ``stride == window`` tiles the text)."""

    window: int
    stride: int

    def __post_init__(self) -> None:
        for name, value in (("window", self.window), ("stride", self.stride)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"passage {name} must be a positive integer, got {value!r}")
        if self.stride > self.window:
            raise ValueError(
                f"passage stride {self.stride} is longer than its window {self.window}: the "
                "tokens between windows would be lost; use a stride of at most the window"
            )

    @classmethod
    def for_model(
        cls, max_length: int, window: int | None = None, stride: int | None = None
    ) -> PassageWindow:
        """The window a model of ``max_length`` tokens reads whole (``window`` at most
        that), and half-overlapping passages unless ``stride`` says otherwise."""
        fits = max_length - SPECIAL_TOKENS
        if window is not None and window > fits:
            raise ValueError(
                f"passage window {window} is longer than the model reads ({fits} tokens "
                f"after [CLS] and [SEP] of its {max_length}); use at most {fits}"
            )
        chosen = window if window is not None else fits
        return cls(chosen, stride if stride is not None else max(1, chosen // 2))


@dataclass(frozen=True)
class Split:
    """One text's passages, its token count and the tokens past the first window."""

    passages: tuple[str, ...]
    tokens: int
    past_window: int


@dataclass
class Lengths:
    """What a run's texts looked like against the window: how many were longer than it
    (``long``), the tokens past it (``tokens_past_window``: what truncation would have
    dropped), and the passages encoded (one per text that fits)."""

    texts: int = 0
    long: int = 0
    tokens_past_window: int = 0
    passages: int = 0

    def add(self, split: Split) -> None:
        self.texts += 1
        self.passages += len(split.passages)
        if split.past_window:
            self.long += 1
            self.tokens_past_window += split.past_window

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Splitter:
    """Splits texts for one model: its tokenizer, no truncation, and a :class:`PassageWindow`.

    With ``split=False`` every text stays whole (one passage) and is only
    measured, so a run that truncates can still say what it dropped.
    """

    def __init__(self, tokenizer: Tokenizer, window: PassageWindow, split: bool = True) -> None:
        copy = Tokenizer.from_str(tokenizer.to_str())
        copy.no_truncation()
        copy.no_padding()
        self.tokenizer = copy
        self.window = window
        self.split_long = split

    def split(self, texts: Sequence[str]) -> list[Split]:
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [self._one(text, enc) for text, enc in zip(texts, encodings, strict=True)]

    def _one(self, text: str, encoding: Encoding) -> Split:
        count = len(encoding.ids)
        past = max(0, count - self.window.window)
        if not past or not self.split_long:
            return Split((text,), count, past)
        spans = _windows(encoding, self.window)
        offsets = encoding.offsets
        passages = tuple(text[offsets[s][0] : offsets[e - 1][1]].strip() for s, e in spans)
        return Split(tuple(p for p in passages if p) or (text,), count, past)


def _windows(encoding: Encoding, window: PassageWindow) -> list[tuple[int, int]]:
    """Token spans ``[start, end)`` of at most ``window.window`` tokens, every
    ``window.stride`` tokens, each starting on a word start; the last ends at the end."""
    count = len(encoding.ids)
    words = encoding.word_ids
    starts = {0}
    for i in range(0, count, window.stride):
        if i + window.window >= count:
            # The last window: as late as a whole window allows, moved forward to a word.
            starts.add(_word_start_at_or_after(words, max(0, count - window.window)))
            break
        starts.add(_word_start_at_or_before(words, i))
    spans = []
    for start in sorted(starts):
        end = min(count, start + window.window)
        spans.append((start, end))
        if end == count:
            break
    return spans


def _inside_word(words: list[int | None], i: int) -> bool:
    return 0 < i < len(words) and words[i] is not None and words[i] == words[i - 1]


def _word_start_at_or_before(words: list[int | None], i: int) -> int:
    """The start of the word at ``i``, unless that word is too long to be one (a URL, a
    run of symbols): then ``i`` itself."""
    j = i
    while _inside_word(words, j) and i - j < MAX_WORD_TOKENS:
        j -= 1
    return i if _inside_word(words, j) else j


def _word_start_at_or_after(words: list[int | None], i: int) -> int:
    j = i
    while _inside_word(words, j) and j - i < MAX_WORD_TOKENS:
        j += 1
    return i if _inside_word(words, j) else j
