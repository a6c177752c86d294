import os

import numpy as np
import pytest
import torch


# The suite's tensors are tiny: one intra-op thread avoids oversubscription on the 2-core CI machine.
torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    # THEORYSIM_GPU_DEVICE=cpu runs the gpu-marked tests on the CPU (benchmarks/gpu_check.sh --device cpu):
    # they then compare the CPU with itself, which checks that they run end to end before a GPU is lent.
    if torch.cuda.is_available() or os.environ.get("THEORYSIM_GPU_DEVICE") == "cpu":
        return
    skip = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
