"""Validation of lesion models against reference labels (RTSTRUCT, SEG, label volumes, VOC boxes).

Qt-free; imports ``core``, ``io`` and ``inference``. The public API::

    discovery = discover_cases(paths, index, annotations=..., manifest=..., variants=VariantPlan(thicknesses=(8.0,)))
    analyser = RegistryAnalyser(ModelRegistry(builtin_dir, user_dir), "lung-nodule-seg")
    report = validate_cases(discovery.cases, analyser, out_dir, progress=..., cancel=...)
    subgroups = subgroup_report(report, headers_from_index(index, report))  # fairness figures
    files = write_report(report, out_dir, subgroups)

    studies = make_cohort(out_dir, 200, seed=1, planted_failure="Manufacturer=ACME")  # a generated cohort

``evaluate_case(case, analyser, cache_dir)`` is the pure per-case step; ``FunctionAnalyser``
wraps any ``volume -> findings`` function (a fake in tests, a fold's model in training).
"""
