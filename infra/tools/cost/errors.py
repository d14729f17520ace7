"""The error every part of the cost tool raises on bad input (the CLI prints it, exit 2)."""


class CostError(ValueError):
    """Bad input to the cost tool (price table, plan, assumption, schedule expression)."""
