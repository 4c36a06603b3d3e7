"""fraudsite's ML core, with no Django anywhere: simulate, features, train, evaluate, artifacts, predict.

Entry points: `python -m model_package.simulate` and `python -m model_package.train`; the interfaces are
in docs/CONTRACTS.md.
"""
