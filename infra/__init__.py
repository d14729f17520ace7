"""The Pulumi program that ships the service to AWS (see ``infra/program.py``)."""
