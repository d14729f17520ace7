"""The account bootstrap: a second, small Pulumi program (``infra/bootstrap/Pulumi.yaml``).

Run once per AWS account with ``make bootstrap`` (local state); ``make bootstrap-plan`` runs it
offline under mocks. It creates what the main program's stacks and the workflows need before
their first run: the S3 state bucket, KMS keys for the secrets providers, the GitHub Actions OIDC
provider and the five CI roles with a permissions boundary for the roles the stacks create.
"""
