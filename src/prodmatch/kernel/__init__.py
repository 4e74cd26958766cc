"""The offline Kaggle kernel: build the dataset + kernel folders, and rehearse them offline.

- :mod:`prodmatch.kernel.build` -- ``prodmatch kernel build``: wheel, thresholds, weights, metadata, kernel.py;
- :mod:`prodmatch.kernel.rehearse` -- ``prodmatch kernel rehearse``: fake /kaggle tree, fresh environment,
  no network, validated submission, per-stage timings and the projected Kaggle run time;
- :mod:`prodmatch.kernel.netguard` -- how the rehearsal keeps the kernel off the network.

The kernel script template and the metadata templates are in ``prodmatch/kernel/templates/``.
"""
