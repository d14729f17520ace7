"""One ``pulumi.ComponentResource`` per concern; each parents its children to itself."""
