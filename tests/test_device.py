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
