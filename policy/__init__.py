"""Pulumi policy pack (CrossGuard) for the service stacks; the rules live in `policy.rules`."""
