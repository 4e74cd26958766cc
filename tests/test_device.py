"""Device choice helpers: worker processes follow the cores and the device."""

import torch

from prodmatch.device import autocast, default_num_workers


def test_no_extra_workers_on_small_cpu_machines():
    cpu = torch.device("cpu")
    assert [default_num_workers(cpu, cores) for cores in (1, 2, 4, 8, 16, 64)] == [0, 0, 0, 2, 4, 4]


def test_gpu_machines_decode_in_workers():
    cuda = torch.device("cuda", 0)
    assert [default_num_workers(cuda, cores) for cores in (1, 2, 4, 16)] == [1, 1, 3, 8]


def test_autocast_is_a_no_op_on_cpu():
    with autocast(torch.device("cpu"), enabled=True, dtype="bfloat16"):
        assert torch.ones(2).dtype == torch.float32


import pytest

from prodmatch import device as device_module
from prodmatch.device import arch_supported, check_cuda, inference_amp_dtype, resolve_device, usable_cuda_indices

KAGGLE_ARCH_LIST = ["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]  # Kaggle/docker-python#1546


@pytest.fixture
def fake_gpu(monkeypatch):
    """torch reports one CUDA device of the given capability (this CPU build cannot run a real op on it)."""
    def install(capability, name="Tesla P100-PCIE-16GB", arch_list=KAGGLE_ARCH_LIST, count=1):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: name)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=0: capability)
        monkeypatch.setattr(torch.cuda, "get_arch_list", lambda: list(arch_list))
        check_cuda.cache_clear()
        monkeypatch.setattr(device_module, "_warned", set())

    yield install
    check_cuda.cache_clear()


def test_a_gpu_whose_capability_torch_was_not_built_for_is_refused_with_one_warning(fake_gpu):
    fake_gpu((6, 0))
    with pytest.warns(RuntimeWarning, match="no kernels for sm_60") as caught:
        assert resolve_device("auto") == torch.device("cpu")
        assert resolve_device("auto") == torch.device("cpu")
    assert len([w for w in caught if "GPU refused" in str(w.message)]) == 1
    with pytest.raises(RuntimeError, match="sm_60"):
        resolve_device("cuda")
    assert "Tesla P100" in check_cuda(0).describe()


def test_a_supported_capability_still_needs_a_cuda_op_that_succeeds(fake_gpu):
    fake_gpu((7, 5), name="Tesla T4")
    check = check_cuda(0)
    assert check.present and not check.usable and "test CUDA op failed" in check.reason  # CPU-only torch here
    with pytest.warns(RuntimeWarning, match="Tesla T4"):
        assert resolve_device("auto").type == "cpu"


def test_no_gpu_at_all_means_the_cpu_without_a_warning(monkeypatch, recwarn):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    check_cuda.cache_clear()
    try:
        assert resolve_device("auto").type == "cpu" and not check_cuda(0).present
        assert not [w for w in recwarn if "GPU" in str(w.message)]
    finally:
        check_cuda.cache_clear()


def test_arch_list_matching():
    assert arch_supported((7, 5), KAGGLE_ARCH_LIST)
    assert not arch_supported((6, 0), KAGGLE_ARCH_LIST)
    assert arch_supported((8, 9), ["sm_80", "compute_80"])  # PTX compiles forward
    assert not arch_supported((7, 0), ["sm_80", "compute_80"])
    assert arch_supported((9, 0), ["sm_90a"])


@pytest.mark.parametrize("capability, gpu", [((8, 9), "L4"), ((8, 6), "A10G"), ((10, 3), "B300"),
                                             ((12, 1), "DGX Spark"), ((7, 5), "T4"), ((9, 0), "H100")])
def test_kaggles_arch_list_runs_every_gpu_of_a_built_major(capability, gpu):
    """torch's rule: sm_XY code runs on the same major at a minor at or above it (an L4, sm_89, runs sm_86)."""
    assert arch_supported(capability, KAGGLE_ARCH_LIST), gpu


@pytest.mark.parametrize("capability, gpu", [((6, 0), "P100"), ((6, 1), "P40"), ((8, 7), "Jetson Orin"),
                                             ((7, 2), "Jetson Xavier"), ((11, 0), "Thor")])
def test_kaggles_arch_list_refuses_other_majors_and_integrated_gpus(capability, gpu):
    """No sm_6x code at all; Jetson Orin (sm_87) runs only sm_87 code, as in torch.cuda.DEVICE_REQUIREMENT."""
    assert not arch_supported(capability, KAGGLE_ARCH_LIST), gpu


def test_arch_rule_matches_torchs_own_table_where_torch_has_one():
    requirement = getattr(torch.cuda, "DEVICE_REQUIREMENT", None)
    if requirement is None:
        pytest.skip("this torch has no DEVICE_REQUIREMENT table")
    from prodmatch.device import code_runs_on

    devices = [50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90, 100, 101, 103, 110, 120, 121]
    for code_cc, allowed in requirement.items():
        for device_cc in devices:
            assert code_runs_on(code_cc, device_cc) == (device_cc in allowed), (code_cc, device_cc)


def test_an_l4_passes_the_arch_check_and_reaches_the_test_op(fake_gpu):
    fake_gpu((8, 9), name="NVIDIA L4")
    check = check_cuda(0)
    assert check.present and not check.usable
    assert "test CUDA op failed" in check.reason  # past the arch check: only this CPU torch stops it


def test_bfloat16_runs_are_embedded_in_float16_below_ampere(fake_gpu, monkeypatch):
    fake_gpu((7, 5), name="Tesla T4")
    with pytest.warns(RuntimeWarning, match="no native bfloat16"):
        assert inference_amp_dtype(torch.device("cuda", 0), "bfloat16") == "float16"
    assert inference_amp_dtype(torch.device("cuda", 0), "float16") == "float16"
    assert inference_amp_dtype(torch.device("cpu"), "bfloat16") == "bfloat16"  # autocast is off there anyway
    fake_gpu((8, 9), name="NVIDIA L4")
    assert inference_amp_dtype(torch.device("cuda", 0), "bfloat16") == "bfloat16"
    with pytest.raises(ValueError, match="amp dtype"):
        inference_amp_dtype(torch.device("cpu"), "float32")


def test_usable_cuda_indices_lists_every_device_that_passes(fake_gpu, monkeypatch):
    fake_gpu((7, 5), name="Tesla T4", count=2)
    monkeypatch.setattr(device_module, "cuda_usable", lambda index=0: True)
    assert usable_cuda_indices() == [0, 1]
    monkeypatch.setattr(device_module, "cuda_usable", lambda index=0: index == 1)
    assert usable_cuda_indices() == [1]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert usable_cuda_indices() == []
