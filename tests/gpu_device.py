"""The device of the gpu-marked tests: "cuda", or "cpu" when THEORYSIM_GPU_DEVICE=cpu (a dry run)."""
import os

GPU = os.environ.get("THEORYSIM_GPU_DEVICE", "cuda")
