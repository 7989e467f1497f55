"""What only a developer's machine runs: the demo, the local stack, packaging, the deployer and its preflight.

It may import the library (vodflow) and the emulator (tencent_emulator); neither imports it, and nothing of it
ships to SCF (tests/test_layers.py).
"""
