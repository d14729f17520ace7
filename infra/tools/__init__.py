"""What inspects or operates the program, apart from what is deployed: the program
(``infra/program.py``, ``infra/config/``, ``infra/components/``) never imports anything here
(tests/infra/test_layout.py checks).

``mocks.py`` runs the program offline under Pulumi's mocks; ``replacement.py`` knows which input
changes replace a resource; ``plan.py`` prints the offline plan, ``plandiff.py`` diffs two,
``cost/`` prices one; ``drift.py`` reports a deployed stack's drift; ``teardown.py`` destroys a
disposable stack; ``promote.py`` copies an image by digest between repositories; ``smoke.py``
checks a deployed service; ``review.py`` chooses the review stacks to destroy.

Each command keeps its name: ``python -m infra.plan`` (``infra/plan.py``) runs ``plan.main``,
and so on for plandiff, cost, drift, teardown, promote, smoke and review.
"""
