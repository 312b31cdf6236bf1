"""``tandem eval``: index a BEIR dataset once, run every method, score and chart them."""
