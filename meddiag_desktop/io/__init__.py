"""DICOM input/output: scanning and indexing, series -> Volume, SEG/SR.

pydicom's reading validation is switched off: files from the field are often slightly
non-conformant, and this layer reports what actually matters in its own plain words.
"""

from pydicom import config as _pydicom_config

_pydicom_config.settings.reading_validation_mode = _pydicom_config.IGNORE
