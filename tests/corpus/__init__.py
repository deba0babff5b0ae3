"""Bad-input corpus: hostile and careless drops, each with the outcome the drop layer promises.

``kinds`` adapts one valid row to each inbox's header, ``cases`` builds the
files, ``batch`` runs a whole inbox of them through a kind's entry point and
records what became of every file; ``test_corpus`` compares the two.
"""
