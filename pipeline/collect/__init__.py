"""Collecting image folders: validation, duplicates, exclude lists, provenance, the collector.

The pure pieces (:mod:`validate`, :mod:`dedup`, :mod:`exclude`, :mod:`summary`) take bytes,
images and strings; :mod:`folder` reads and writes a folder's provenance manifest;
:mod:`collector` puts them together for the crawl stage (one :class:`Collector` per folder).
"""
