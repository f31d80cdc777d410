"""Public trace importers into one normalised workload schema (:mod:`.schema`).

One module per trace format, each documenting the upstream schema it reads:
``alibaba_gpu_2023`` (openb), ``alibaba_gpu_2025_dlrm``, ``alibaba_2018``,
``alibaba_pai_2020`` (machine specs), ``google_2019``, ``google_2011``, ``azure_vm``,
``swf`` (Standard Workload Format) and ``simkube``. What they share: ``schema`` (the
columns, their validation, the reader options), ``reports`` (the read report and
``TraceError``), ``tables`` (delimited files as string cells, checked row by row) and
``build`` (window, sampling and scaling into the normalised frames); ``formats`` names
every reader for scenarios. ``jobs`` gives job-level views (arrival, run time and size
per job) of the traces that record jobs, Alibaba 2018 ``batch_task`` and the PAI 2020
job / task tables, for batch workloads (``workloads[].jobs``); ``job_samples`` writes
their synthetic samples.
"""
