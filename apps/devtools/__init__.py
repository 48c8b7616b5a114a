"""Development tooling: the demo, the benchmarks and the simulated clouds they and the tests use.

Installed by the local (demo) and test settings only, never by production; no product app
imports it (it may import any of them).
"""
