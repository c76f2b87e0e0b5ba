"""carpswitch's benchmarks (issue 9): every figure a ratio against a baseline of the same run.

Run them with `bench/run` (`--quick` for few repetitions); they write bench/RESULTS.md.
They drive carpswitch through its CLI and the lab's public API only (create_node, LabNode),
so they measure whatever code is in the tree.
"""
