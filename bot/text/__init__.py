"""Text as tokens: the vocabulary, and the caption tokens that /caption and /name share."""
