"""The bootstrap's components: one ComponentResource per concern."""
