"""The mayors' monthly risk summary: facts from the collector's store, one page in plain French
(or English), sent by email with a chart and a PDF copy. See docs/monthly-report.md.

Nothing here is imported by the agent: the heavy parts (Pillow, Chromium) stay on the collector.
"""
