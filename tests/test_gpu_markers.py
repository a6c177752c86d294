"""gpu-marked tests take their device from ``tests/gpu_device.py``.

``benchmarks/gpu_check.sh --device cpu`` runs every gpu-marked test on the CPU (``THEORYSIM_GPU_DEVICE=cpu``)
so that the GPU check is known to work before a GPU is lent; a test that writes ``device="cuda"`` itself
fails there on a CPU-only torch (three did, until this test).
"""
import ast
from pathlib import Path

TESTS = Path(__file__).parent


def _is_gpu_mark(expr) -> bool:
    text = ast.unparse(expr)
    return "mark" in text and "gpu" in text


def _gpu_tests(tree: ast.Module):
    """Test functions marked gpu, by a decorator or by a module-level ``pytestmark``."""
    module_marked = any(isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in n.targets)
                        and _is_gpu_mark(n.value) for n in tree.body)
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test")
            and (module_marked or any(_is_gpu_mark(d) for d in n.decorator_list))]


def test_gpu_marked_tests_do_not_hard_code_cuda():
    offenders = []
    for f in sorted(TESTS.glob("test_*.py")):
        for node in _gpu_tests(ast.parse(f.read_text())):
            for sub in ast.walk(node):
                if isinstance(sub, ast.keyword) and sub.arg == "device" and isinstance(sub.value, ast.Constant) \
                        and sub.value.value == "cuda":
                    offenders.append(f"{f.name}::{node.name}")
    assert not offenders, f"use `from gpu_device import GPU` and device=GPU in: {offenders}"


def test_the_check_sees_gpu_marked_tests():
    n = sum(len(_gpu_tests(ast.parse(f.read_text()))) for f in TESTS.glob("test_*.py"))
    assert n >= 14  # benchmarks/gpu_check.sh --device cpu ran 14 of them
