"""The interactive dashboard: the tidy table and the detectors' findings as a static site.

``data.build_data`` (pure: table + findings -> JSON-able columns), ``encode`` (the columns as
compact JavaScript data files), ``writer`` (the folder: the page, its scripts, uPlot vendored
from npm, the data), ``links`` (links into the dashboard and between it and the asv site).
The page itself is ``static/``. Run it as ``python -m tools dashboard --out DIR``.
"""
