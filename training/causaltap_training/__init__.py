"""CausalTap training package: model architectures (causal TAPIR/BootsTAPIR, GMRW), export and converters.

Run with Debian's /usr/bin/python3 (torch 1.13 CPU); the same code runs on PyTorch 2.x with CUDA.
"""
