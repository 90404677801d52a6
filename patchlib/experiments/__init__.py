"""One module per chapter: its sizes per profile, its experiment and its claims."""
